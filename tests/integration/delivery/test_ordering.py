"""Ordered subscribers: each key strictly in receipt order, one at a time; keys in parallel."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import orjson
from aiohttp import web

from gateway.store import deliveries as store
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import Behaviour, answer
from tests.integration.delivery.conftest import (
    StartDispatcher,
    StartSubscriber,
    delivery_config,
)

KEYS, PER_KEY = 50, 20


class KeyWatcher:
    """Answers 200 (every 37th request 500), after a short pause; watches each key."""

    def __init__(self) -> None:
        self.busy: set[str] = set()
        self.overlaps: list[str] = []
        self.seen: dict[str, list[int]] = defaultdict(list)
        self.order: list[str] = []

    async def __call__(self, request: web.Request, n: int) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        key, seq = body["key"], body["seq"]
        if key in self.busy:
            self.overlaps.append(key)
        self.busy.add(key)
        try:
            await asyncio.sleep(0.002)
            self.seen[key].append(seq)
            self.order.append(key)
            return web.Response(status=500 if n % 37 == 0 else 200)
        finally:
            self.busy.discard(key)


def _without_repeats(values: list[int]) -> list[int]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


async def _all_succeeded(db: Database, count: int) -> bool:
    done = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
    return bool(done == count)


async def test_a_thousand_events_over_fifty_keys_arrive_in_order_per_key_while_keys_interleave(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    watcher = KeyWatcher()
    server = await start_subscriber(watcher)
    await subscriber(db, url=server.url, ordered=True)
    rng = random.Random(4)
    pending = {f"order-{k}": 0 for k in range(KEYS)}
    batch = []
    while pending:  # received in a random interleaving of keys, each key in its own order
        key = rng.choice(sorted(pending))
        body = orjson.dumps({"key": key, "seq": pending[key]})
        batch.append(event(f"{key}-{pending[key]}", key=key, body=body))
        pending[key] += 1
        if pending[key] == PER_KEY:
            del pending[key]
        if len(batch) == 100 or not pending:
            await store_events(db, batch)
            batch = []
    config = delivery_config(backoff_base_seconds=0.01, backoff_cap_seconds=0.02)
    await start_dispatcher(config)
    await start_dispatcher(config)
    await until(lambda: _all_succeeded(db, KEYS * PER_KEY), timeout=60)

    assert watcher.overlaps == []  # never two deliveries of one key at once
    for key in (f"order-{k}" for k in range(KEYS)):
        assert _without_repeats(watcher.seen[key]) == list(range(PER_KEY)), key
    switches = sum(1 for a, b in zip(watcher.order, watcher.order[1:], strict=False) if a != b)
    assert switches > KEYS * PER_KEY / 2  # keys flowed side by side, not one after another
    assert server.max_concurrent > 1
    assert await db.pool.fetchval("SELECT count(*) FROM ordering_keys WHERE unfinished > 0") == 0


async def test_events_without_an_ordering_key_are_not_held_back(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    server = await start_subscriber(answer(200))
    await subscriber(db, url=server.url, ordered=True)
    await store_events(db, [event(f"loose-{i}") for i in range(10)])
    statuses = await db.pool.fetch("SELECT DISTINCT status FROM deliveries")
    assert [r["status"] for r in statuses] == ["pending"]
    await start_dispatcher()
    await server.wait_for(10)


async def _statuses(db: Database) -> list[str]:
    rows = await db.pool.fetch(
        "SELECT d.status FROM deliveries d JOIN events e ON e.id = d.event_id ORDER BY e.seq"
    )
    return [r["status"] for r in rows]


def failing_for(orders: set[str]) -> Behaviour:
    """500 for the events whose ``order`` is in ``orders`` (changed by the test), else 200."""

    async def respond(request: web.Request, _: int) -> web.StreamResponse:
        order = orjson.loads(await request.read())["order"]
        return web.Response(status=500 if order in orders else 200)

    return respond


async def test_a_dead_head_blocks_its_key_until_it_is_retried(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    broken = {"o-0"}
    server = await start_subscriber(failing_for(broken))
    await subscriber(db, url=server.url, ordered=True, max_attempts=2)
    await store_events(db, [event(f"o-{i}", key="order-1") for i in range(3)])
    await store_events(db, [event("other", key="order-2")])
    await start_dispatcher()
    await until(lambda: _status_list_is(db, ["dead", "queued", "queued", "succeeded"]))
    sent = sorted(orjson.loads(a.body)["order"] for a in server.arrivals)
    assert sent == ["o-0", "o-0", "other"]  # the head twice; its key waits behind it

    broken.clear()
    head = await db.pool.fetchval("SELECT id FROM deliveries WHERE status = 'dead'")
    await store.retry(db, head)
    await until(lambda: _status_list_is(db, ["succeeded"] * 4))
    later = [orjson.loads(a.body)["order"] for a in server.arrivals[3:]]
    assert later == ["o-0", "o-1", "o-2"]


async def _status_list_is(db: Database, expected: list[str]) -> bool:
    return await _statuses(db) == expected


async def test_a_discarded_dead_head_lets_its_key_move_on(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    broken = {"o-0"}
    server = await start_subscriber(failing_for(broken))
    await subscriber(db, url=server.url, ordered=True, max_attempts=1)
    await store_events(db, [event(f"o-{i}", key="order-1") for i in range(3)])
    await start_dispatcher()
    await until(lambda: _status_list_is(db, ["dead", "queued", "queued"]))
    head = await db.pool.fetchval("SELECT id FROM deliveries WHERE status = 'dead'")
    await store.discard(db, head)
    await until(lambda: _status_list_is(db, ["cancelled", "succeeded", "succeeded"]))
    assert [orjson.loads(a.body)["order"] for a in server.arrivals] == ["o-0", "o-1", "o-2"]


async def test_a_paused_ordered_subscriber_keeps_its_queue_in_order(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    from gateway.store import subscribers

    server = await start_subscriber(answer(200))
    sub = await subscriber(db, url=server.url, ordered=True)
    await subscribers.pause(db, sub.id)
    await store_events(db, [event(f"o-{i}", key="k") for i in range(5)])
    await start_dispatcher()
    assert await _statuses(db) == ["pending", "queued", "queued", "queued", "queued"]
    await subscribers.resume(db, sub.id)
    await server.wait_for(5)
    assert [orjson.loads(a.body)["order"] for a in server.arrivals] == [f"o-{i}" for i in range(5)]


async def test_a_dead_head_removed_by_retention_unblocks_its_key(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    from gateway.store import ordering

    broken = {"o-0"}
    server = await start_subscriber(failing_for(broken))
    await subscriber(db, url=server.url, ordered=True, max_attempts=1)
    await store_events(db, [event(f"o-{i}", key="order-1") for i in range(2)])
    dispatcher = await start_dispatcher()
    await until(lambda: _status_list_is(db, ["dead", "queued"]))
    await dispatcher.stop(1.0)
    await db.pool.execute("DELETE FROM deliveries WHERE status = 'dead'")  # as retention does
    assert await db.pool.fetchval("SELECT unfinished FROM ordering_keys") == 1
    assert await ordering.rescue_stranded(db) == 1  # what every dispatcher's upkeep runs
    await start_dispatcher()
    await until(lambda: _status_list_is(db, ["succeeded"]))
