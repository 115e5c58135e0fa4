"""Property: whatever bytes arrive, the plain-webhook judgement takes only what both of
aiohttp's parsers read as exactly that one request, the same way, keeping the connection.

The requests are valid webhooks mutated around the shapes a second parser gets wrong
(chaos/framing.py). A few hundred here; ``make chaos`` runs the same property at least
10,000 times (the ``framing`` scenario).
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings

from chaos.framing import disagreement, requests
from gateway.ingress.framing import plain_webhook

EXAMPLES = 300


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(requests())
def test_the_judgement_takes_only_what_aiohttp_reads_the_same_way(data: bytes) -> None:
    event("taken" if plain_webhook(data) is not None else "left to aiohttp")

    assert disagreement(data) is None
