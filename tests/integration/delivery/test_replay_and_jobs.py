"""Replays and bulk retries: sent again, in order, by background jobs with progress."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson

from gateway.delivery.jobs import JobRunner
from gateway.store import jobs, replay
from gateway.store.database import Database
from gateway.store.records import DeliveryFilter
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import answer
from tests.integration.delivery.conftest import (
    StartDispatcher,
    StartSubscriber,
    delivery_config,
)


async def _statuses(db: Database) -> dict[str, int]:
    rows = await db.pool.fetch("SELECT status, count(*) FROM deliveries GROUP BY status")
    return {r["status"]: r["count"] for r in rows}


async def _finished(db: Database) -> bool:
    return set(await _statuses(db)) <= {"succeeded", "dead", "cancelled"}


async def test_replaying_an_event_sends_it_again_to_every_subscriber_it_had(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    a = await start_subscriber(answer(200))
    b = await start_subscriber(answer(200))
    await subscriber(db, url=a.url, name="a")
    await subscriber(db, url=b.url, name="b", event_types=("refunds/*",))
    [stored] = await store_events(db, [event("o-1")])
    await start_dispatcher()
    await a.wait_for(1)
    await until(lambda: _finished(db))
    ids = await replay.replay_event(db, stored.event_id)
    assert len(ids) == 1
    await a.wait_for(2)
    assert a.arrivals[0].headers["webhook-id"] == a.arrivals[1].headers["webhook-id"]
    assert b.arrivals == []


async def test_replaying_an_event_to_one_subscriber_creates_its_delivery(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    late = await start_subscriber(answer(200))
    [stored] = await store_events(db, [event("o-1")])
    newcomer = await subscriber(db, url=late.url, name="newcomer", event_types=("refunds/*",))
    [delivery_id] = await replay.replay_event(db, stored.event_id, newcomer.id)
    await start_dispatcher()
    [arrival] = await late.wait_for(1)
    assert arrival.headers["webhook-id"] == stored.event_id
    assert arrival.headers["x-gateway-delivery-id"] == delivery_id


async def test_a_bulk_retry_job_sends_every_matching_dead_letter_again(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(answer(500))
    wms = await subscriber(db, url=server.url, name="wms", max_attempts=1)
    await subscriber(db, url=server.url, name="erp", max_attempts=1)
    await store_events(db, [event(f"o-{i}") for i in range(15)])
    dispatcher = await start_dispatcher()
    await until(lambda: _statuses_are(db, {"dead": 30}))
    await dispatcher.stop(1.0)

    f = DeliveryFilter(status="dead", subscriber_id=wms.id)
    job = await jobs.create(
        db, "retry_dead", {"subscriber_id": wms.id}, await replay.count_dead_letters(db, f)
    )
    assert (job.state, job.total, job.done) == ("queued", 15, 0)
    runner = JobRunner(db, delivery_config(job_batch_size=4))
    claimed = await jobs.claim(db, runner.token, 60)
    assert claimed is not None
    await runner.run(claimed)
    job = await jobs.get(db, job.id)
    assert (job.state, job.total, job.done, job.error) == ("succeeded", 15, 15, None)
    rows = await db.pool.fetch(
        "SELECT subscriber_id, status, attempts FROM deliveries WHERE status = 'pending'"
    )
    assert {r["subscriber_id"] for r in rows} == {wms.id}
    assert len(rows) == 15 and {r["attempts"] for r in rows} == {0}


async def _statuses_are(db: Database, expected: dict[str, int]) -> bool:
    return await _statuses(db) == expected


async def test_a_replay_job_catches_a_new_subscriber_up_on_a_time_range_in_order(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(answer(200))
    await store_events(db, [event(f"early-{i}", key="k") for i in range(3)])
    await asyncio.sleep(0.05)
    since = datetime.now(UTC)
    for i in range(4):  # separate commits, one event each, all in the range
        await store_events(db, [event(f"in-{i}", key="k")])
    await store_events(db, [event(f"other-{i}", source="erp", key="k") for i in range(2)])
    until = datetime.now(UTC) + timedelta(seconds=1)
    newcomer = await subscriber(db, url=server.url, name="newcomer", ordered=True)
    params = {
        "source": "shop",
        "subscriber_id": newcomer.id,
        "since": since.isoformat(),
        "until": until.isoformat(),
    }
    total = await replay.count_source_events(db, "shop", since, until)
    job = await jobs.create(db, "replay_source", params, total)
    runner = JobRunner(db, delivery_config(job_batch_size=3))
    claimed = await jobs.claim(db, runner.token, 60)
    assert claimed is not None
    await runner.run(claimed)
    job = await jobs.get(db, job.id)
    assert (job.state, job.total, job.done) == ("succeeded", 4, 4)
    await start_dispatcher()
    arrivals = await server.wait_for(4)
    assert [orjson.loads(a.body)["order"] for a in arrivals] == [f"in-{i}" for i in range(4)]


async def test_a_job_left_by_a_dead_worker_is_resumed_by_another(db: Database) -> None:
    await subscriber(db, url="http://127.0.0.1:9/hook", max_attempts=1)
    job = await jobs.create(db, "retry_dead", {}, 0)
    first = await jobs.claim(db, "crashed", 0.05)
    assert first is not None and first.id == job.id
    assert await jobs.claim(db, "healthy", 60) is None  # still leased
    await asyncio.sleep(0.1)
    again = await jobs.claim(db, "healthy", 60)
    assert again is not None and again.id == job.id
    assert not await jobs.advance(db, job.id, "crashed", 1, None, 60)  # the lease moved on


async def test_a_jobs_progress_grows_batch_by_batch(db: Database) -> None:
    sub = await subscriber(db, url="http://127.0.0.1:9/hook")
    await store_events(db, [event(f"o-{i}") for i in range(10)])
    await db.pool.execute("UPDATE deliveries SET status = 'dead', completed_at = now()")
    job = await jobs.create(db, "retry_dead", {"subscriber_id": sub.id}, 10)
    runner = JobRunner(db, delivery_config(job_batch_size=4))
    claimed = await jobs.claim(db, runner.token, 60)
    assert claimed is not None
    progress, cursor = [], claimed.cursor
    while not (cursor or {}).get("finished"):
        cursor, done = await runner.step(claimed, cursor)
        assert await jobs.advance(db, job.id, runner.token, done, cursor, 60)
        progress.append((await jobs.get(db, job.id)).done)
    assert progress == [4, 8, 10, 10]
