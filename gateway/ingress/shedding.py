"""Answer webhooks 503 + Retry-After first of all while the gateway is overloaded.

Under a burst, most requests are refused, so the refusal must cost as little as it can:
a loop that spends its CPU on 503s has none left for the webhooks it does take. The
refusal is the intake's first step (:meth:`~gateway.ingress.intake.Intake.shed`: a
prepared body per path, one counter, no logging; ``gateway_ingest_requests{outcome=
"overloaded"}`` counts them), taken in two places:

- :class:`EarlyRefusal`, in the ingress connection's protocol, before aiohttp parses the
  request or builds anything for it. It answers only a plain webhook, judged from the
  bytes alone by the fast path's own strict test -- ``POST /webhooks/v1/{source}
  HTTP/1.1`` that aiohttp would read the same way, with a ``Content-Length`` and the
  whole body in hand, nothing after it (ingress/framing.py) -- and the connection stays
  open for the sender's next request. That is what a burst of webhooks is made of.
- the intake itself, for every other webhook, on aiohttp's request path: before any
  check or read (the refused body is then left unread and its connection closed).

Requests that pass still meet the same test after their body is read.
"""

from __future__ import annotations

from gateway.ingress.early import Peer
from gateway.ingress.framing import plain_webhook
from gateway.ingress.intake import Intake

__all__ = ["EarlyRefusal"]


class EarlyRefusal:
    """The overload 503 answered from the raw bytes of a request (see the module docstring).

    Called with each chunk that starts a request on an idle connection; returns the
    whole answer to write, or ``None`` to let aiohttp handle the request as usual.
    """

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def __call__(self, data: bytes, peer: Peer | None = None) -> bytes | None:
        intake = self.intake
        if not intake.overloaded(arriving=1):
            return None
        plain = plain_webhook(data)
        if plain is None:
            return None
        outcome = intake.shed(plain.source, plain.path)
        return outcome.encoded()
