"""Transforms at delivery: what the subscriber receives is what its transform made of the
event, signed as sent; a transform that fails sends nothing and dead-letters at once; one
that skips an event ends its delivery cancelled. Real subscribers on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import orjson

from gateway.delivery.signer import sign
from gateway.delivery.ssrf import AddressPolicy
from gateway.delivery.transforms import TransformEngine
from gateway.domain.subscriber import SubscriberSettings
from gateway.domain.transform import Transform
from gateway.domain.xmlview import parse_xml
from gateway.store import replay
from gateway.store import subscribers as store
from gateway.store.database import Database
from gateway.store.deliveries import get_delivery, release_expired_leases
from gateway.store.records import Attempt, Delivery, IngestEvent
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.xmlbodies import order
from tests.integration.delivery.api import admin_client, auth
from tests.integration.delivery.conftest import StartDispatcher, StartSubscriber, delivery_config

RESHAPE = """\
function handler(request, context) {
  const o = request.body;
  return {
    body: {order: o.order, country: o.country, by: context.subscriber},
    headers: {"X-Warehouse": "berlin"},
    path: "/orders/" + o.order,
    query: {source: request.source},
  };
}
"""

THROWS = """\
function handler(request) {
  const lines = request.body.lines;
  return {body: lines.map((l) => l.sku)};
}
"""

SKIPS_ALL_BUT_GERMANY = """\
function handler(request) {
  if (request.body.country !== "DE") return {cancel: true};
  return request;
}
"""


async def deliveries(db: Database) -> list[Delivery]:
    ids = await db.pool.fetch("SELECT id FROM deliveries ORDER BY id")
    return [await get_delivery(db, row["id"]) for row in ids]


async def attempts(db: Database) -> list[Attempt]:
    rows = await db.pool.fetch("SELECT * FROM delivery_attempts ORDER BY delivery_id, attempt")
    return Attempt.from_rows(rows)


async def settled(db: Database, count: int) -> bool:
    done = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE status IN ('succeeded', 'dead', 'cancelled')"
    )
    return bool(done == count)


def order_event(number: str, country: str = "DE") -> IngestEvent:
    return event(number, body=orjson.dumps({"order": number, "country": country}))


async def test_the_subscriber_receives_the_transformed_request_signed_over_what_was_sent(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    sub = await subscriber(db, url=server.url, transform=Transform(source=RESHAPE))
    await store_events(db, [order_event("1001")])
    await start_dispatcher()
    [got] = await server.wait_for(1)
    assert got.path == "/hook/orders/1001"
    assert orjson.loads(got.body) == {"order": "1001", "country": "DE", "by": "wms"}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Warehouse"] == "berlin"
    expected = sign(
        sub.secret, got.headers["webhook-id"], int(got.headers["webhook-timestamp"]), got.body
    )
    assert got.headers["webhook-signature"] == expected
    await until(lambda: settled(db, 1))
    [attempt] = await attempts(db)
    assert attempt.outcome == "success"
    assert sub.transform is not None
    assert attempt.transform_version == sub.transform.version
    assert attempt.request_url == server.url + "/orders/1001?source=shop"
    assert attempt.request_bytes == len(got.body)
    assert attempt.request_content_type == "application/json"


async def test_a_failing_transform_dead_letters_at_once_and_a_retry_after_the_fix_sends_it(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    sub = await subscriber(db, url=server.url, max_attempts=5, transform=Transform(source=THROWS))
    await store_events(db, [order_event("1002")])
    await start_dispatcher()
    await until(lambda: settled(db, 1))
    [delivery] = await deliveries(db)
    [attempt] = await attempts(db)
    assert delivery.status == "dead"
    assert attempt.outcome == "transform_error"
    assert attempt.error == "TypeError: cannot read property 'map' of undefined (line 3, column 17)"
    assert attempt.transform_version == Transform(source=THROWS).version
    assert attempt.request_url is None
    assert server.received == []
    fixed = Transform(source=SKIPS_ALL_BUT_GERMANY)
    settings = SubscriberSettings(name=sub.name, url=sub.url, max_attempts=5, transform=fixed)
    await store.update_subscriber(db, sub.id, settings, state="active", state_reason=None)
    await replay.retry(db, delivery.id)
    [got] = await server.wait_for(1)
    assert orjson.loads(got.body) == {"order": "1002", "country": "DE"}


async def test_an_event_the_transform_skips_is_not_sent_and_its_delivery_ends_cancelled(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    await subscriber(db, url=server.url, transform=Transform(source=SKIPS_ALL_BUT_GERMANY))
    await store_events(db, [order_event("1003", "FR"), order_event("1004", "DE")])
    await start_dispatcher()
    await until(lambda: settled(db, 2))
    by_status = {d.status: d for d in await deliveries(db)}
    assert set(by_status) == {"cancelled", "succeeded"}
    assert by_status["cancelled"].last_error is None
    outcomes = {a.outcome for a in await attempts(db)}
    assert outcomes == {"skipped_by_transform", "success"}
    assert [orjson.loads(r.body)["order"] for r in server.received] == ["1004"]


async def test_a_transform_reads_an_xml_body_through_its_json_view(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    source = """function handler(request) {
      const o = request.body.order;
      return {body: {id: o["@id"], country: o.shipping.country["@code"],
                     skus: o.lines.line.map((l) => l["@sku"])}};
    }"""
    await subscriber(db, url=server.url, transform=Transform(source=source))
    body = order(2, "1005")
    xml = msgspec.structs.replace(
        event("1005", body=body),
        content_type="application/xml",
        body_view=orjson.dumps(parse_xml(body).view).decode(),
    )
    await store_events(db, [xml])
    await start_dispatcher()
    [got] = await server.wait_for(1)
    assert orjson.loads(got.body) == {
        "id": "1005",
        "country": "DE",
        "skus": ["SKU-00000", "SKU-00001"],
    }


async def test_deliveries_waiting_for_a_spinning_transform_leave_the_sending_slots_to_others(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    plain = await start_subscriber()
    trap = await start_subscriber()
    await subscriber(db, name="plain", url=plain.url, event_types=("refunds/*",))
    spin = Transform(source="function handler(request) { for (;;) {} }")
    hostile = await subscriber(
        db, name="hostile", url=trap.url, event_types=("orders/*",), transform=spin
    )
    await store_events(db, [order_event(str(n)) for n in range(32)])
    await start_dispatcher(delivery_config(concurrency=4))
    await until(lambda: dead(db, hostile.id, at_least=1))  # the slots are taken by now
    await store_events(db, [event(f"r{n}", event_type="refunds/create") for n in range(8)])
    await plain.wait_for(8)
    assert not await dead(db, hostile.id, at_least=24)  # 32 spins of 50 ms on two workers
    await until(lambda: settled(db, 40), timeout=30)
    assert trap.received == []


async def dead(db: Database, subscriber_id: str, at_least: int) -> bool:
    count = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND status = 'dead'",
        subscriber_id,
    )
    return bool(count >= at_least)


async def test_the_api_shows_each_attempt_with_the_transform_it_ran_and_what_it_sent(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    sub = await subscriber(db, url=server.url, transform=Transform(source=RESHAPE))
    await store_events(db, [order_event("1006")])
    await start_dispatcher()
    [got] = await server.wait_for(1)
    await until(lambda: settled(db, 1))
    [delivery] = await deliveries(db)
    client = await admin_client(db, AddressPolicy(("127.0.0.0/8",)))
    try:
        response = await client.get(f"/api/v1/deliveries/{delivery.id}", headers=auth("read"))
        detail = await response.json()
    finally:
        await client.close()
    assert response.status == 200, detail
    [attempt] = detail["attempt_log"]
    assert sub.transform is not None
    assert attempt["transform_version"] == sub.transform.version
    assert attempt["request_url"] == server.url + "/orders/1006?source=shop"
    assert attempt["request_bytes"] == len(got.body)
    assert attempt["request_content_type"] == "application/json"


class HeldEngine:
    """The dispatcher's own engine, with each call held at a gate the test opens."""

    def __init__(self, engine: TransformEngine) -> None:
        self.engine = engine
        self.gate = asyncio.Event()
        self.calls = 0

    async def apply(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        await self.gate.wait()
        return await self.engine.apply(*args, **kwargs)

    async def close(self) -> None:
        await self.engine.close()


async def test_a_delivery_whose_lease_ran_out_while_its_transform_waited_is_sent_once(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber()
    dispatcher = await start_dispatcher(delivery_config(lease_seconds=1.0, timeout_seconds=0.5))
    held = HeldEngine(dispatcher.transforms)
    dispatcher.transforms = held  # type: ignore[assignment]
    sub = await subscriber(db, url=server.url, transform=Transform(source=RESHAPE))
    await store_events(db, [order_event("1001")])
    await until(lambda: held.calls == 1)
    await asyncio.sleep(1.1)  # the lease runs out while the transform waits
    await release_expired_leases(db)  # or the dispatcher's own upkeep released it first
    await until(lambda: held.calls == 2)  # claimed again, by the same dispatcher

    held.gate.set()
    await until(lambda: settled(db, 1))
    await asyncio.sleep(0.3)  # a second request would have come by now
    assert len(server.received) == 1
    (delivery,) = await deliveries(db)
    assert delivery.subscriber_id == sub.id
    assert [a.outcome for a in await attempts(db)] == ["success"]
