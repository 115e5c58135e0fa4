"""Measure retention batches and the backlog query on a large database.

    .venv/bin/python -m bench.lifecycle [--events 200000] [--batch 2000]

Seeds ``--events`` events (two subscribers each, so twice as many deliveries) on a fresh
database of the test server (embedded, or $GATEWAY_TEST_DATABASE_URL), then prints:
the EXPLAIN ANALYZE of the backlog query (and of a plain GROUP BY for comparison), the
time of every retention batch, what ingest and the claim saw meanwhile (their latency
and whether any of them waited on a lock), and a second, steady-state round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.config import RetentionConfig
from gateway.maintenance.retention import Retention
from gateway.observability import Metrics
from gateway.store import deliveries
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.maintenance import RetentionSession
from gateway.store.sql import QUERIES
from testkit.bulkdata import seed, seed_subscribers
from testkit.factories import event
from testkit.postgres import PostgresForTests, with_database

GROUP_BY = """
SELECT s.name, s.state, d.status, count(d.id)
FROM subscribers s
LEFT JOIN deliveries d
  ON d.subscriber_id = s.id AND d.status IN ('pending', 'in_flight', 'dead')
GROUP BY s.name, s.state, d.status
"""


async def _populate(conn: asyncpg.Connection, n: int) -> None:
    subs = await seed_subscribers(conn, ["warehouse", "erp"])
    plan = [  # (share, age_days, status, attempts, finished_after_days, what retention does)
        (0.50, 40, "succeeded", 2, 0.0, "deleted: old and delivered"),
        (0.10, 40, "dead", 3, 35.0, "kept: a dead letter 5 days old"),
        (0.01, 40, "pending", 4, 0.0, "kept: still pending"),
        (0.25, 1, "succeeded", 1, 0.0, "kept: young"),
        (0.14, 0, "pending", 0, 0.0, "kept: the backlog"),
    ]
    for i, (share, age, status, attempts, finished, what) in enumerate(plan):
        t0 = time.perf_counter()
        seeded = await seed(
            conn,
            count=int(n * share),
            age_days=age,
            subscriber_ids=subs,
            status=status,
            attempts=attempts,
            finished_after_days=finished,
            prefix=f"m{i}-",
        )
        print(f"  seeded {seeded} ({status}, {age} d) in {time.perf_counter() - t0:.1f}s: {what}")
    await conn.execute("VACUUM ANALYZE")


async def _counts(conn: asyncpg.Connection) -> str:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM events) e, (SELECT count(*) FROM deliveries) d,"
        " (SELECT count(*) FROM delivery_attempts) a"
    )
    assert row is not None
    return f"events={row['e']} deliveries={row['d']} attempts={row['a']}"


async def _explain(conn: asyncpg.Connection, title: str, sql: str, *args: object) -> None:
    await conn.fetch(sql, *args)  # warm
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    print(f"\n--- {title} ---")
    for r in rows:
        print(r[0])


async def _plans(conn: asyncpg.Connection, batch: int) -> None:
    """The plans of one batch of each retention step (EXPLAIN without running it)."""
    month_ago = "now() - interval '30 days'"
    start = "'1970-01-01'::timestamptz"
    steps = {
        "retention_delete_attempts": (month_ago, start, "0", str(batch)),
        "retention_delete_finished_deliveries": (month_ago, str(batch)),
        "retention_delete_events": ("'shop'", month_ago, start, "''", month_ago, str(batch)),
    }
    for name, args in steps.items():
        sql = QUERIES[name]
        for i in range(len(args), 0, -1):
            sql = sql.replace(f"${i}", args[i - 1])
        rows = await conn.fetch(f"EXPLAIN {sql}")
        scans = [
            r[0].strip() for r in rows if " Scan " in r[0] or r[0].lstrip().startswith("->  Index")
        ]
        print(f"\n--- plan of {name} (scans only) ---")
        print("\n".join(scans))


def _timed(
    name: str, times: dict[str, list[float]], method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: RetentionSession, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await method(self, *args)
        finally:
            times.setdefault(name, []).append(time.perf_counter() - t0)

    return wrapper


async def _traffic(db: Database, stop: asyncio.Event, latencies: dict[str, list[float]]) -> None:
    """Ingest (a batch of 20 events) and the claim, back to back, while retention runs."""
    i = 0
    while not stop.is_set():
        batch = [event(f"live-{i}-{k}") for k in range(20)]
        t0 = time.perf_counter()
        await insert_batch(db, batch)
        latencies["ingest batch of 20"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        claimed = await deliveries.claim(db, 20, 60, "measure")
        latencies["claim 20"].append(time.perf_counter() - t0)
        await deliveries.release(db, [c.id for c in claimed], "measure")
        i += 1


async def _lock_waits(url: str, stop: asyncio.Event, seen: list[str]) -> None:
    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT left(query, 60) AS q FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            seen += [r["q"] for r in rows]
            await asyncio.sleep(0.005)
    finally:
        await conn.close()


def _summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"n={len(ms)} median={statistics.median(ms):.1f}ms p99={p99:.1f}ms max={ms[-1]:.1f}ms"


async def _retention(url: str, batch: int) -> None:
    db = await Database.connect(url, min_size=2, max_size=6)
    times: dict[str, list[float]] = {}
    for name in ("delete_attempts", "delete_finished_deliveries", "delete_events"):
        original = getattr(RetentionSession, name)
        setattr(RetentionSession, name, _timed(name, times, original))
    retention = Retention(db, RetentionConfig(batch_size=batch), Metrics())
    latencies: dict[str, list[float]] = {"ingest batch of 20": [], "claim 20": []}
    baseline: dict[str, list[float]] = {"ingest batch of 20": [], "claim 20": []}
    stop = asyncio.Event()
    quiet = asyncio.create_task(_traffic(db, stop, baseline))
    await asyncio.sleep(2)
    stop.set()
    await quiet
    stop = asyncio.Event()
    waits: list[str] = []
    traffic = asyncio.create_task(_traffic(db, stop, latencies))
    watcher = asyncio.create_task(_lock_waits(url, stop, waits))
    result = await retention.run_once()
    stop.set()
    await asyncio.gather(traffic, watcher)
    print(f"\n--- retention round, batch_size={batch}: {result.seconds:.1f}s ---")
    print(f"deleted {result.deleted}")
    for name, values in times.items():
        print(f"{name:28} {_summary(values)}")
    for name in latencies:
        print(f"{name:28} before: {_summary(baseline[name])}")
        print(f"{'':28} during: {_summary(latencies[name])}")
    print(f"sessions seen waiting on a lock during the round: {len(waits)} {waits[:5]}")
    times.clear()
    again = await retention.run_once()
    print(f"\n--- steady state: a second round deletes {again.deleted} in {again.seconds:.2f}s ---")
    for name, values in times.items():
        print(f"{name:28} {_summary(values)}")
    await db.close()


async def main(events: int, batch: int) -> None:
    server = await asyncio.to_thread(PostgresForTests)
    name = await asyncio.to_thread(server.create_database)
    url = with_database(server.url, name)
    try:
        conn = await asyncpg.connect(url)
        try:
            print(f"seeding {events} events (two deliveries each)")
            await _populate(conn, events)
            print(f"before: {await _counts(conn)}")
            await _explain(conn, "backlog query (shipped)", QUERIES["backlog_by_subscriber"], None)
            await _explain(conn, "plain GROUP BY, for comparison", GROUP_BY)
            await _plans(conn, batch)
        finally:
            await conn.close()
        await _retention(url, batch)
        conn = await asyncpg.connect(url)
        try:
            print(f"\nafter: {await _counts(conn)}")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(server.drop_database, name)
        await asyncio.to_thread(server.close)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch))
