"""Replays under a new id: a body-only signature verifies again whatever id a header says,
so for those schemes a second copy of a body within the source's replay window is answered
as the duplicate it is: 200, the first event's id, nothing stored, nothing delivered."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
import orjson
import pytest

from gateway.ingress.schemes import apply_preset
from testkit.factories import subscriber
from tests.integration.ingress.conftest import StartIngress
from tests.integration.ingress.harness import Ingress
from tests.integration.ingress.senders import ORDER, SENDERS, Sender

BODY_ONLY = [s for s in SENDERS if s.source.scheme in {"shopify", "woocommerce", "github", "hmac"}]
SHOP = next(s for s in SENDERS if s.source.scheme == "shopify")


def id_header(sender: Sender) -> str:
    header = apply_preset(sender.source).event_id
    assert header is not None and not header.startswith("/")
    return header


async def deliveries(gateway: Ingress) -> int:
    return int(await gateway.db.pool.fetchval("SELECT count(*) FROM deliveries"))


@pytest.mark.parametrize("sender", BODY_ONLY, ids=[s.source.scheme for s in BODY_ONLY])
async def test_a_captured_request_sent_again_under_a_new_id_is_a_duplicate_of_the_first(
    start_ingress: StartIngress, sender: Sender
) -> None:
    gateway = await start_ingress(sender.source)
    await subscriber(gateway.db)
    captured = sender.sign(sender.secret, ORDER, "delivery-1")
    first = await gateway.post(sender.name, ORDER, captured)
    replayed = await gateway.post(sender.name, ORDER, {**captured, id_header(sender): "forged-2"})

    assert first.status == 202, first
    assert replayed.status == 200, replayed
    assert replayed.body == {"event_id": first.body["event_id"], "duplicate": True}
    assert await gateway.stored(sender.name) == 1
    assert await deliveries(gateway) == 1
    assert gateway.counted(sender.name, "duplicate") == 1


async def test_the_same_body_as_another_event_type_is_a_new_event(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SHOP.source)
    created = SHOP.sign(SHOP.secret, ORDER, "delivery-1")
    updated = {**SHOP.sign(SHOP.secret, ORDER, "delivery-2"), "X-Shopify-Topic": "orders/updated"}
    answers = [await gateway.post(SHOP.name, ORDER, h) for h in (created, updated)]
    assert [a.status for a in answers] == [202, 202], answers


@pytest.mark.parametrize(
    "sender",
    [s for s in SENDERS if s not in BODY_ONLY],
    ids=[s.name for s in SENDERS if s not in BODY_ONLY],
)
async def test_other_schemes_keep_no_window_unless_asked(
    start_ingress: StartIngress, sender: Sender
) -> None:
    """Their signatures cover the id (Standard Webhooks; Stripe's id is in the signed body),
    or they prove nothing about the request at all (static credentials)."""
    gateway = await start_ingress(sender.source)
    answers = [
        await gateway.post(sender.name, ORDER, sender.sign(sender.secret, ORDER, f"d-{n}"))
        for n in (1, 2)
    ]
    expected = [202, 200] if sender.source.scheme == "stripe" else [202, 202]  # same /id
    assert [a.status for a in answers] == expected, answers
    assert await gateway.stored(sender.name) == (1 if sender.source.scheme == "stripe" else 2)


async def test_a_source_with_the_window_off_stores_the_same_body_under_each_new_id(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(msgspec.structs.replace(SHOP.source, replay_window_seconds=0))
    captured = SHOP.sign(SHOP.secret, ORDER, "delivery-1")
    first = await gateway.post(SHOP.name, ORDER, captured)
    again = await gateway.post(SHOP.name, ORDER, {**captured, id_header(SHOP): "delivery-2"})
    assert (first.status, again.status) == (202, 202)
    assert await gateway.stored(SHOP.name) == 2


async def test_a_body_first_received_longer_ago_than_the_window_is_stored_again(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(msgspec.structs.replace(SHOP.source, replay_window_seconds=60))
    captured = SHOP.sign(SHOP.secret, ORDER, "delivery-1")
    first = await gateway.post(SHOP.name, ORDER, captured)
    await gateway.db.pool.execute(
        "UPDATE events SET received_at = received_at - interval '61 seconds' WHERE id = $1",
        first.body["event_id"],
    )
    later = await gateway.post(SHOP.name, ORDER, {**captured, id_header(SHOP): "delivery-2"})
    third = await gateway.post(SHOP.name, ORDER, {**captured, id_header(SHOP): "delivery-3"})

    assert later.status == 202, later
    assert later.body["event_id"] != first.body["event_id"]
    assert third.body == {"event_id": later.body["event_id"], "duplicate": True}
    assert await gateway.stored(SHOP.name) == 2


async def test_one_body_sent_at_once_under_two_ids_on_two_connections_is_stored_once(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SHOP.source)
    await subscriber(gateway.db)
    rounds = 10
    senders = [aiohttp.ClientSession() for _ in range(2)]
    try:
        for n in range(rounds):
            body = orjson.dumps({"id": n, "total_price": "12.50"})
            signed = [SHOP.sign(SHOP.secret, body, f"r{n}-{k}") for k in range(2)]
            together = await asyncio.gather(
                *(post(http, gateway, body, h) for http, h in zip(senders, signed, strict=True))
            )
            assert sorted(status for status, _ in together) == [200, 202], together
            (stored,) = [answer for status, answer in together if status == 202]
            assert [answer for status, answer in together if status == 200] == [
                {"event_id": stored["event_id"], "duplicate": True}
            ]
    finally:
        for http in senders:
            await http.close()
    assert await gateway.stored(SHOP.name) == rounds
    assert await deliveries(gateway) == rounds
    assert (gateway.counted(SHOP.name, "accepted"), gateway.counted(SHOP.name, "duplicate")) == (
        rounds,
        rounds,
    )


async def post(
    http: aiohttp.ClientSession, gateway: Ingress, body: bytes, headers: dict[str, str]
) -> tuple[int, object]:
    async with http.post(gateway.url(SHOP.name), data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)
