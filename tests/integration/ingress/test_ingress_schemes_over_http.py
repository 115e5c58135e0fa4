"""Every signature scheme once through the real route: the sender's own recipe is accepted
and stored, the same request signed with another secret is refused with 401."""

from __future__ import annotations

import pytest

from gateway.config import SourceConfig
from tests.integration.ingress.conftest import StartIngress
from tests.integration.ingress.senders import ORDER, SENDERS, Sender

IDS = [f"{sender.source.scheme}:{sender.name}" for sender in SENDERS]


@pytest.mark.parametrize("sender", SENDERS, ids=IDS)
async def test_each_scheme_stores_its_senders_request_and_refuses_a_wrong_or_missing_one(
    start_ingress: StartIngress, sender: Sender
) -> None:
    gateway = await start_ingress(sender.source)

    signed = await gateway.post(sender.name, ORDER, sender.sign(sender.secret, ORDER, "d-1"))
    assert signed.status == 202, signed
    assert signed.body["duplicate"] is False
    assert await gateway.stored(sender.name) == 1
    assert gateway.counted(sender.name, "accepted") == 1

    wrong = sender.sign(_another(sender.secret), ORDER, "d-2")
    for headers in (wrong, {"Content-Type": "application/json"}):
        refused = await gateway.post(sender.name, ORDER, headers)
        assert refused.status == 401, refused
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.body["type"].endswith("/signature-invalid")
        assert refused.body["detail"] in {
            "signature verification failed",
            "missing signature header",
        }
        assert sender.secret not in refused.headers.get("WWW-Authenticate", "")
        assert sender.secret not in str(refused.body)
    assert await gateway.stored(sender.name) == 1
    assert gateway.counted(sender.name, "signature-invalid") == 2


def _another(secret: str) -> str:
    """A different secret of the same shape (a Standard Webhooks one stays base64)."""
    if secret.startswith("whsec_") and secret.endswith("="):
        return "whsec_" + "A" * 43 + "="
    return secret[:-4] + "0000"


async def test_a_source_that_says_scheme_none_accepts_an_unsigned_request(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none", event_id="/id"))
    answer = await gateway.post("open", ORDER, {"Content-Type": "application/json"})
    assert answer.status == 202, answer
    assert await gateway.stored("open") == 1


async def test_a_second_delivery_of_the_same_event_is_a_duplicate_with_the_first_id(
    start_ingress: StartIngress,
) -> None:
    shopify = SENDERS[0]
    gateway = await start_ingress(shopify.source)
    headers = shopify.sign(shopify.secret, ORDER, "same-delivery")
    first = await gateway.post(shopify.name, ORDER, headers)
    again = await gateway.post(shopify.name, ORDER, headers)
    assert (first.status, again.status) == (202, 200)
    assert again.body == {"event_id": first.body["event_id"], "duplicate": True}
