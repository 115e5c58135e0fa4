"""Operational events over real parts: real dispatchers settling real attempts against
subscribers on loopback, the events stored in PostgreSQL as events of the source
``gateway`` and delivered, signed, to the subscribers that name it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import msgspec
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.config import OperationalEventsConfig
from gateway.delivery.circuit import GONE_REASON
from gateway.domain.operational import OperationalEvent, stamp
from gateway.ingress.operational import OperationalEvents
from gateway.ingress.spikes import SignatureSpikes
from gateway.maintenance.backlog import BacklogMonitor
from gateway.observability import Metrics
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import answer, in_turn, slow
from tests.integration.delivery.conftest import StartDispatcher, StartSubscriber, delivery_config

CONFIG = OperationalEventsConfig(console_url="https://gw.example:8081")
StartEvents = Callable[..., Awaitable[OperationalEvents]]


@pytest.fixture
async def start_events(database_url: str) -> AsyncIterator[StartEvents]:
    """Start a replica's operational events (a pool of its own); all stopped at the end."""
    running: list[tuple[OperationalEvents, Database]] = []

    async def start(
        config: OperationalEventsConfig = CONFIG, metrics: Metrics | None = None
    ) -> OperationalEvents:
        db = await Database.connect(database_url, min_size=1, max_size=2)
        events = OperationalEvents(db, config, metrics or Metrics())
        events.start()
        running.append((events, db))
        return events

    yield start
    for events, db in running:
        await events.stop()
        await db.close()


async def stored(db: Database) -> list[tuple[str, dict[str, object]]]:
    """The events of the source ``gateway``, oldest first: (type, body)."""
    rows = await db.pool.fetch(
        "SELECT event_type, body FROM events WHERE source = 'gateway' ORDER BY received_at, id"
    )
    return [(r["event_type"], orjson.loads(r["body"])) for r in rows]


async def quiet(seconds: float = 0.5) -> None:
    """Time for anything more to arrive that would (bounded: what the test rules out)."""
    await asyncio.sleep(seconds)


async def test_a_disabled_subscriber_is_told_once_signed_to_those_naming_the_gateway_source(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    start_events: StartEvents,
) -> None:
    # Several deliveries fail at once, on two replicas: each settlement finds the
    # subscriber to disable, one of them disables it, and only that one tells.
    warehouse = await start_subscriber(in_turn(*(slow(0.05 * i, answer(410)) for i in range(6))))
    alerts_sink = await start_subscriber()
    everything = await start_subscriber()
    wms = await subscriber(db, "warehouse", url=warehouse.url, sources=["shop"])
    alerts = await subscriber(
        db, "alerts", url=alerts_sink.url, sources=["gateway"], event_types=["subscriber.*"]
    )
    await subscriber(db, "everything", url=everything.url)  # every source: not the gateway's
    await store_events(db, [event(f"o-{i}") for i in range(6)])
    for _ in range(2):
        events = await start_events()
        await start_dispatcher(emit=events.emit)

    (told,) = await alerts_sink.wait_for(1)
    await everything.wait_for(6)
    await quiet()
    assert len(alerts_sink.received) == 1
    Webhook(alerts.secret).verify(told.body, told.headers)
    body = orjson.loads(told.body)
    assert body["type"] == "subscriber.disabled"
    first_attempt = await db.pool.fetchval("SELECT min(started_at) FROM delivery_attempts")
    assert body["data"].pop("failing_since") == stamp(first_attempt)
    assert body["data"] == {
        "subscriber": {"id": wms.id, "name": "warehouse"},
        "reason": GONE_REASON,
        "links": {"subscriber": f"https://gw.example:8081/console/subscribers/{wms.id}"},
    }
    assert len(everything.received) == 6
    assert all(orjson.loads(r.body)["order"].startswith("o-") for r in everything.received)
    assert [kind for kind, _ in await stored(db)] == ["subscriber.disabled"]


async def test_a_circuit_opening_and_closing_are_told_once_each(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    start_events: StartEvents,
) -> None:
    failing = answer(500)
    erp = await start_subscriber(in_turn(failing, failing, failing, failing, answer(200)))
    alerts_sink = await start_subscriber()
    erp_sub = await subscriber(db, "erp", url=erp.url, sources=["shop"], max_in_flight=1)
    await subscriber(db, "alerts", url=alerts_sink.url, sources=["gateway"])
    await store_events(db, [event(f"o-{i}") for i in range(8)])
    config = delivery_config(
        circuit_consecutive_failures=3,
        circuit_min_requests=100,
        circuit_cooldown_seconds=0.3,
        max_attempts=20,
    )
    events = await start_events()
    await start_dispatcher(config, emit=events.emit)

    await alerts_sink.wait_for(2)
    await until(lambda: _all_succeeded(db))
    await quiet()
    kinds = [orjson.loads(r.body)["type"] for r in alerts_sink.received]
    # Closed -> open on the third failure; the failed probe re-opens it (no change to
    # tell); the passing probe closes it.
    assert kinds == ["subscriber.circuit_opened", "subscriber.circuit_closed"]
    opened = orjson.loads(alerts_sink.received[0].body)
    assert opened["data"]["subscriber"] == {"id": erp_sub.id, "name": "erp"}
    first_attempt = await db.pool.fetchval("SELECT min(started_at) FROM delivery_attempts")
    assert opened["data"]["failing_since"] == stamp(first_attempt)


async def _all_succeeded(db: Database) -> bool:
    left = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id"
        " WHERE e.source = 'shop' AND d.status <> 'succeeded'"
    )
    return bool(left == 0)


async def test_a_dead_delivery_is_told_but_not_one_of_the_gateways_own_events(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    start_events: StartEvents,
) -> None:
    # The subscriber of the gateway's events fails too: its deliveries of the two
    # delivery.dead events die as well, and that is told to no one (else each would
    # make another for it to fail on, without end).
    warehouse = await start_subscriber(answer(500))
    alerts_sink = await start_subscriber(answer(500))
    wms = await subscriber(db, "warehouse", url=warehouse.url, sources=["shop"], max_attempts=2)
    await subscriber(db, "alerts", url=alerts_sink.url, sources=["gateway"], max_attempts=2)
    results = await store_events(db, [event("o-1"), event("o-2")])
    events = await start_events()
    await start_dispatcher(emit=events.emit)

    await until(lambda: _dead(db, 4))
    await quiet(1.0)
    told = await stored(db)
    assert [kind for kind, _ in told] == ["delivery.dead", "delivery.dead"]
    dead = sorted((body["data"] for _, body in told), key=lambda d: str(d["event_id"]))
    assert [d["event_id"] for d in dead] == sorted(r.event_id for r in results)
    assert dead[0]["subscriber"] == {"id": wms.id, "name": "warehouse"}
    assert (dead[0]["source"], dead[0]["event_type"], dead[0]["attempts"]) == (
        "shop",
        "orders/create",
        2,
    )
    assert dead[0]["last_attempt"] == {"outcome": "http_error", "status_code": 500}
    assert len(alerts_sink.received) == 4


async def _dead(db: Database, count: int) -> bool:
    found = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'dead'")
    return bool(found == count)


async def test_a_subscriber_of_the_gateway_that_is_disabled_is_told_of_once_and_not_to_itself(
    db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
    start_events: StartEvents,
) -> None:
    warehouse = await start_subscriber(answer(500))
    alerts_sink = await start_subscriber(answer(410))
    await subscriber(db, "warehouse", url=warehouse.url, sources=["shop"], max_attempts=1)
    alerts = await subscriber(db, "alerts", url=alerts_sink.url, sources=["gateway"])
    await store_events(db, [event("o-1")])
    events = await start_events()
    await start_dispatcher(emit=events.emit)

    await until(lambda: _state_of(db, "alerts", "disabled"))
    await until(lambda: _kinds(db, 2))
    await quiet(1.0)
    told = await stored(db)
    assert [kind for kind, _ in told] == ["delivery.dead", "subscriber.disabled"]
    assert told[1][1]["data"]["subscriber"] == {"id": alerts.id, "name": "alerts"}
    assert len(alerts_sink.received) == 1
    pending = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE subscriber_id = $1", alerts.id
    )
    assert pending == 1  # the disabling's event makes no delivery to the disabled


async def _state_of(db: Database, name: str, state: str) -> bool:
    return bool(
        await db.pool.fetchval("SELECT state FROM subscribers WHERE name = $1", name) == state
    )


async def test_two_replicas_telling_of_one_change_store_one_event(
    db: Database, start_events: StartEvents
) -> None:
    await subscriber(db, "alerts", sources=["gateway"])
    change = OperationalEvent(
        "subscriber.disabled", "sub_x", datetime.now(UTC), {"subscriber": {"id": "sub_x"}}
    )
    metrics = Metrics()
    for _ in range(2):
        (await start_events(metrics=metrics)).emit(change)
    await until(lambda: _counted(metrics, "stored") + _counted(metrics, "duplicate") == 2)
    assert (_counted(metrics, "stored"), _counted(metrics, "duplicate")) == (1, 1)
    assert len(await stored(db)) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM deliveries") == 1


def _counted(metrics: Metrics, outcome: str) -> float:
    labels = {"kind": "subscriber.disabled", "outcome": outcome}
    return metrics.registry.get_sample_value("gateway_operational_events_total", labels) or 0.0


async def test_an_event_that_finds_the_queue_full_is_dropped_and_counted_at_once(
    db: Database,
) -> None:
    metrics = Metrics()
    events = OperationalEvents(db, OperationalEventsConfig(queue_size=2), metrics)  # not started
    change = OperationalEvent("subscriber.disabled", "sub_x", datetime.now(UTC), {})
    for _ in range(3):
        events.emit(change)
    assert _counted(metrics, "dropped") == 1


async def test_signature_failures_spiking_over_two_replicas_is_told_once_per_episode(
    db: Database, database_url: str, start_events: StartEvents
) -> None:
    config = msgspec.structs.replace(
        CONFIG, signature_failures_threshold=6, signature_failures_window_seconds=2.0
    )
    events = await start_events(config)
    replicas = []
    for _ in range(2):
        pool = await Database.connect(database_url, min_size=1, max_size=2)
        replicas.append((SignatureSpikes(pool, config, events.emit), pool))
    try:
        for spikes, _ in replicas:
            for _ in range(3):  # neither reaches the threshold alone
                spikes.failed("shop")
            spikes.failed("github")
        for _ in range(2):
            await asyncio.gather(*(spikes.check() for spikes, _ in replicas))
        await until(lambda: _kinds(db, 1))
        (spiking,) = await stored(db)
        assert spiking == (
            "source.signature_failures_spiking",
            {
                "type": "source.signature_failures_spiking",
                "timestamp": spiking[1]["timestamp"],
                "data": {
                    "source": "shop",
                    "failures": 6,
                    "window_seconds": 2.0,
                    "threshold": 6,
                    "links": {"sources": "https://gw.example:8081/console/sources"},
                },
            },
        )
        await asyncio.sleep(3.1)  # the window passes without failures
        for _ in range(2):
            await asyncio.gather(*(spikes.check() for spikes, _ in replicas))
        told = await until(lambda: _kinds(db, 2))
        assert told == ["source.signature_failures_spiking", "source.signature_failures_recovered"]
    finally:
        for _, pool in replicas:
            await pool.close()


async def _kinds(db: Database, count: int) -> list[str] | None:
    kinds = [kind for kind, _ in await stored(db)]
    return kinds if len(kinds) >= count else None


async def test_a_growing_backlog_is_told_when_it_starts_and_when_it_ends(
    db: Database, start_events: StartEvents
) -> None:
    events = await start_events()
    paused = await subscriber(db, "erp", sources=["shop"])  # no dispatcher: all wait
    await store_events(db, [event(f"o-{i}") for i in range(5)])
    monitors = [BacklogMonitor(db, Metrics(), 1.0, emit=events.emit, threshold=4) for _ in "ab"]
    for monitor in monitors * 2:
        await monitor.refresh()
    await until(lambda: _kinds(db, 1))
    (growing,) = await stored(db)
    assert growing[0] == "backlog.growing"
    assert growing[1]["data"]["subscriber"] == {"id": paused.id, "name": "erp"}
    assert growing[1]["data"]["backlog"] == 5
    await db.pool.execute("UPDATE deliveries SET status = 'succeeded' WHERE status = 'pending'")
    for monitor in monitors * 2:
        await monitor.refresh()
    told = await until(lambda: _kinds(db, 2))
    assert told == ["backlog.growing", "backlog.recovered"]


async def test_a_report_that_fails_to_be_told_never_stops_the_settling(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    def broken(_: OperationalEvent) -> None:
        raise RuntimeError("the operational events are broken")

    gone = await start_subscriber(answer(410))
    erp = await start_subscriber()
    await subscriber(db, "gone", url=gone.url, sources=["shop"])
    await store_events(db, [event("o-1")])
    await start_dispatcher(emit=broken)
    await until(lambda: _state_of(db, "gone", "disabled"))
    await subscriber(db, "erp", url=erp.url, sources=["later"])
    await store_events(db, [event(f"l-{i}", source="later") for i in range(3)])
    await erp.wait_for(3)
    await until(lambda: _all_of_source_succeeded(db, "later"))


async def _all_of_source_succeeded(db: Database, source: str) -> bool:
    left = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id"
        " WHERE e.source = $1 AND d.status <> 'succeeded'",
        source,
    )
    return bool(left == 0)
