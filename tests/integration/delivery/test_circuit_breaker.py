"""The circuit breaker, Retry-After, 410 Gone and disabling, with a real failing subscriber."""

from __future__ import annotations

from typing import Any

from gateway.observability import Metrics
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import answer, in_turn, slow
from tests.integration.delivery.conftest import (
    StartDispatcher,
    StartSubscriber,
    delivery_config,
)

BREAKER = delivery_config(
    circuit_consecutive_failures=3,
    circuit_min_requests=100,
    circuit_cooldown_seconds=0.5,
    max_attempts=20,
)


async def _flow(db: Database) -> dict[str, Any]:
    row = await db.pool.fetchrow("SELECT * FROM subscriber_flow")
    assert row is not None
    return dict(row)


async def _charged(db: Database) -> int:
    return int(await db.pool.fetchval("SELECT coalesce(sum(total_attempts), 0) FROM deliveries"))


async def _circuit_is(db: Database, state: str) -> bool:
    return (await _flow(db))["circuit_state"] == state


def _gauge(metrics: Metrics, name: str, subscriber: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"subscriber": subscriber})


async def test_the_circuit_opens_postpones_without_charging_probes_and_closes(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    failing, probe_fails, probe_passes = answer(500), slow(0.3, answer(500)), slow(0.3)
    server = await start_subscriber(
        in_turn(failing, failing, failing, probe_fails, probe_passes, answer(200))
    )
    await subscriber(db, url=server.url, max_in_flight=1)
    await store_events(db, [event(f"o-{i}") for i in range(10)])
    metrics = Metrics()
    await start_dispatcher(BREAKER, metrics)

    await until(lambda: _circuit_is(db, "open"))
    assert len(server.arrivals) == 3
    assert await _charged(db) == 3
    assert _gauge(metrics, "gateway_subscriber_circuit_open", "wms") == 1

    await until(lambda: _circuit_is(db, "half_open"))  # the cool-down is over
    assert len(server.arrivals) == 4  # one probe, nothing else
    await until(lambda: _circuit_is(db, "open"))  # the probe failed
    assert await _charged(db) == 4

    await until(lambda: _circuit_is(db, "half_open"))
    assert len(server.arrivals) == 5
    await until(lambda: _delivered(db))  # the second probe passed: the rest follow
    assert await _circuit_is(db, "closed")
    statuses = await db.pool.fetch("SELECT status, count(*) FROM deliveries GROUP BY status")
    assert {r["status"]: r["count"] for r in statuses} == {"succeeded": 10}
    # Every attempt charged was a request the subscriber saw: postponing cost nothing.
    assert await _charged(db) == len(server.arrivals) == 14
    assert _gauge(metrics, "gateway_subscriber_circuit_open", "wms") == 0


async def test_a_failure_ratio_over_the_window_opens_the_circuit(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    ok, bad = answer(200), answer(500)
    server = await start_subscriber(in_turn(ok, bad, bad, ok, bad, bad, bad, ok, bad, bad))
    await subscriber(db, url=server.url, max_in_flight=1)
    await store_events(db, [event(f"o-{i}") for i in range(20)])
    config = delivery_config(
        circuit_consecutive_failures=0,
        circuit_failure_ratio=0.6,
        circuit_min_requests=10,
        circuit_window_seconds=60,
        circuit_cooldown_seconds=30,
    )
    await start_dispatcher(config)
    await until(lambda: _circuit_is(db, "open"))
    assert len(server.arrivals) == 10  # 7 failures of 10 tripped it; none was in a row of 3+
    assert (await _flow(db))["window_failures"] == 7


async def test_retry_after_on_429_holds_back_the_whole_subscriber_until_then(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(in_turn(answer(429, {"Retry-After": "1"}), answer(200)))
    await subscriber(db, url=server.url)
    await store_events(db, [event("o-1")])
    await start_dispatcher()
    await server.wait_for(1)
    await until(lambda: _throttled(db))
    await store_events(db, [event("o-2")])  # due at once, but the subscriber asked for a pause
    arrivals = await server.wait_for(3)
    await until(lambda: _delivered(db))
    assert arrivals[1].at - arrivals[0].at >= 0.95
    attempts = await db.pool.fetch(
        "SELECT a.status_code FROM delivery_attempts a ORDER BY a.started_at"
    )
    assert [a["status_code"] for a in attempts] == [429, 200, 200]


async def _throttled(db: Database) -> bool:
    return (await _flow(db))["throttled_until"] is not None


async def test_a_410_gone_disables_the_subscriber_with_that_reason(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(answer(410))
    sub = await subscriber(db, url=server.url, max_in_flight=1)
    await store_events(db, [event(f"o-{i}") for i in range(5)])
    metrics = Metrics()
    await start_dispatcher(metrics=metrics)
    await until(lambda: _state_is(db, "disabled"))
    row = await db.pool.fetchrow("SELECT state_reason FROM subscribers WHERE id = $1", sub.id)
    assert row is not None and row["state_reason"] == "the endpoint answered 410 Gone"
    assert _gauge(metrics, "gateway_subscriber_disabled", "wms") == 1
    assert len(server.arrivals) == 1
    waiting = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'pending'")
    assert waiting == 5  # kept, not sent, until the subscriber is resumed


async def _state_is(db: Database, state: str) -> bool:
    return bool(await db.pool.fetchval("SELECT state FROM subscribers") == state)


async def test_a_subscriber_failing_continuously_for_too_long_is_disabled(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(answer(503))
    await subscriber(db, url=server.url)
    await store_events(db, [event("o-1")])
    # A short cooldown: ten failures can come within the 0.3 s and open the circuit,
    # and the test must not wait a minute for the next attempt to find it overdue.
    config = delivery_config(
        disable_after_seconds=0.3, max_attempts=100, circuit_cooldown_seconds=0.1
    )
    await start_dispatcher(config)
    await until(lambda: _state_is(db, "disabled"))
    reason = await db.pool.fetchval("SELECT state_reason FROM subscribers")
    assert reason.startswith("failing continuously since ")
    assert len(server.arrivals) >= 2


async def test_a_success_resets_the_failure_record(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    bad = answer(500)
    server = await start_subscriber(in_turn(bad, bad, answer(200)))
    await subscriber(db, url=server.url, max_in_flight=1)
    await store_events(db, [event("o-1")])
    await start_dispatcher(BREAKER)
    await server.wait_for(3)
    await until(lambda: _delivered(db))
    flow = await _flow(db)
    assert (flow["consecutive_failures"], flow["failing_since"]) == (0, None)
    assert flow["circuit_state"] == "closed"


async def _delivered(db: Database) -> bool:
    return bool(await db.pool.fetchval("SELECT bool_and(status = 'succeeded') FROM deliveries"))
