"""Per-subscriber limits hold across replicas: two dispatchers share one database."""

from __future__ import annotations

from gateway.delivery.dispatcher import Dispatcher
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import Sink, answer, slow
from tests.integration.delivery.conftest import (
    StartDispatcher,
    StartSubscriber,
    delivery_config,
)


async def _delivered(db: Database, count: int) -> bool:
    done = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
    return bool(done == count)


async def _two_replicas(start: StartDispatcher) -> list[Dispatcher]:
    config = delivery_config(concurrency=32, claim_batch=16)
    return [await start(config), await start(config)]


async def test_two_dispatchers_never_send_more_at_once_than_max_in_flight(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server: Sink = await start_subscriber(slow(0.05))
    await subscriber(db, url=server.url, max_in_flight=3)
    await store_events(db, [event(f"o-{i}") for i in range(60)])
    await _two_replicas(start_dispatcher)
    await until(lambda: _delivered(db, 60))
    assert len(server.arrivals) == 60
    assert server.max_concurrent <= 3
    assert await db.pool.fetchval("SELECT in_flight FROM subscriber_flow") == 0


async def test_two_dispatchers_stay_under_the_rate_limit(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    rate, burst, count = 20.0, 4, 50
    server: Sink = await start_subscriber(answer(200))
    await subscriber(db, url=server.url, rate_limit_per_second=rate, rate_limit_burst=burst)
    await store_events(db, [event(f"o-{i}") for i in range(count)])
    await _two_replicas(start_dispatcher)
    await until(lambda: _delivered(db, count))
    times = sorted(a.at for a in server.arrivals)
    # A token bucket lets through at most burst + rate x T in any stretch of T seconds
    # (one more for a stretch's closed ends, and the time a request takes to arrive).
    for i, start in enumerate(times):
        within = sum(1 for t in times[i:] if t < start + 1.0)
        assert within <= burst + rate + 1, (i, within)
    assert times[-1] - times[0] >= (count - burst - 1) / rate - 0.05


async def test_limits_of_one_subscriber_do_not_hold_back_another(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    throttled: Sink = await start_subscriber(answer(200))
    free: Sink = await start_subscriber(answer(200))
    await subscriber(
        db, url=throttled.url, name="slow-wms", rate_limit_per_second=2.0, rate_limit_burst=1
    )
    await subscriber(db, url=free.url, name="erp")
    await store_events(db, [event(f"o-{i}") for i in range(40)])
    await _two_replicas(start_dispatcher)
    await free.wait_for(40)
    assert len(throttled.arrivals) < 40


async def test_a_slow_subscriber_without_a_limit_holds_only_the_default_share_of_slots(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    sluggish: Sink = await start_subscriber(slow(1.0))
    quick: Sink = await start_subscriber(answer(200))
    await subscriber(db, url=sluggish.url, name="sluggish")
    await subscriber(db, url=quick.url, name="quick")
    await store_events(db, [event(f"o-{i}") for i in range(40)])
    await start_dispatcher(
        delivery_config(concurrency=8, claim_batch=8, subscriber_max_in_flight=3)
    )
    await quick.wait_for(40)
    assert sluggish.max_concurrent <= 3
    assert len(sluggish.arrivals) < 40  # the quick one was served while the slow one waited


async def test_a_stopping_dispatcher_hands_back_every_lease_it_holds_started_or_not(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server: Sink = await start_subscriber(slow(5.0))
    await subscriber(db, url=server.url)
    await store_events(db, [event(f"o-{i}") for i in range(10)])
    dispatcher = await start_dispatcher(delivery_config(concurrency=2, claim_batch=4))

    async def leased_beyond_its_slots() -> bool:
        held = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'in_flight'")
        return len(server.arrivals) == 2 and held == 3  # two sending, one queued

    await until(leased_beyond_its_slots)

    await dispatcher.stop(0.1)
    rows = await db.pool.fetch("SELECT status, attempts FROM deliveries ORDER BY attempts")
    assert {r["status"] for r in rows} == {"pending"}
    assert sorted(r["attempts"] for r in rows) == [0] * 10  # released, nothing charged
    assert await db.pool.fetchval("SELECT in_flight FROM subscriber_flow") == 0
