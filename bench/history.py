"""Workload 9's history: events delivered long ago, made in SQL, and what they weigh.

Each event is stored as the gateway stores a Shopify webhook (the bench's bodies, about
1.1 KB) with one delivery per subscriber that has ended: most succeeded at the first
attempt, some after a retry, some dead after every attempt. Receipt times are spread
evenly over the retention window and one day beyond it, so about one event in
``events_days + 1`` is old enough for retention to remove. Events are written in
receipt order, so their ids (``gateway_id``: time first) follow it, as the gateway's do;
their webhook ids are random UUIDs, as Shopify's are, so the dedup index has the shape
(and the size) of a real one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench.payloads import SOURCE, Signed

__all__ = ["CHUNK", "Window", "relation_sizes", "seed_history", "vacuum"]

CHUNK = 500_000
"""Events (and their deliveries) per transaction of the seeding."""

DEAD_PERCENT = 1  # deliveries dead after every attempt: a subscriber down for days
RETRIED_PERCENT = 5  # deliveries that succeeded at the second attempt

_HEADERS = (
    '{"content-type": "application/json", "x-shopify-topic": "orders/create", '
    '"x-shopify-shop-domain": "bench-shop.myshopify.com", "x-shopify-api-version": "2025-10"}'
)

_INSERT = """
WITH stored AS (
    INSERT INTO events (id, source, external_id, event_type, content_type, headers, body,
                        received_at)
    SELECT gateway_id('evt'), $1, gen_random_uuid()::text, 'orders/create', 'application/json',
           $2::jsonb, b.body, t.at
    FROM generate_series($3::bigint, $4::bigint) AS g
    CROSS JOIN LATERAL (
        SELECT $5::timestamptz - $6::float8 * ($7::bigint - g) / $7 * interval '1 second' AS at
    ) t
    JOIN bench_bodies b ON b.n = g % $8
    WHERE t.at < $9::timestamptz
    ORDER BY g
    RETURNING id, received_at
)
INSERT INTO deliveries (id, event_id, subscriber_id, status, attempts, total_attempts,
                        next_attempt_at, last_status_code, last_error, created_at,
                        updated_at, completed_at, enqueued_at)
SELECT gateway_id('dlv'), e.id, s.id, o.status, o.attempts, o.attempts,
       e.received_at + o.took, o.code, o.error, e.received_at, e.received_at + o.took,
       e.received_at + o.took, e.received_at
FROM stored e
CROSS JOIN subscribers s
CROSS JOIN LATERAL (SELECT abs(hashtext(e.id || s.id)) % 100 AS roll) r
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.roll < $10 THEN 'dead' ELSE 'succeeded' END AS status,
           CASE WHEN r.roll < $10 THEN $12::int
                WHEN r.roll < $10 + $11 THEN 2 ELSE 1 END AS attempts,
           CASE WHEN r.roll < $10 THEN interval '1 day'
                WHEN r.roll < $10 + $11 THEN interval '30 seconds'
                ELSE interval '40 milliseconds' END AS took,
           CASE WHEN r.roll < $10 THEN 503 ELSE 200 END AS code,
           CASE WHEN r.roll < $10 THEN 'HTTP 503' END AS error
) o
"""


_VACUUM = "VACUUM (ANALYZE) events, deliveries"


class Window:
    """Where the history's receipt times fall: ``events`` of them, evenly over the
    ``days`` before ``now``; ``expired_before`` is retention's cutoff at ``now``."""

    def __init__(self, events: int, now: datetime, days: float, kept_days: float) -> None:
        self.events = events
        self.now = now
        self.days = days
        self.expired_before = now - timedelta(days=kept_days)


async def seed_history(
    url: str,
    window: Window,
    bodies: list[Signed],
    max_attempts: int,
    *,
    expired_only: bool = False,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """The window's events with their finished deliveries (``expired_only``: only those
    old enough for retention), in transactions of ``CHUNK`` events; then VACUUM and
    ANALYZE, as autovacuum would have done by the time such a history is stored, so the
    visibility map is set and the statistics are current."""
    started = time.perf_counter()
    until = window.expired_before if expired_only else window.now + timedelta(days=1)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_bodies (n int PRIMARY KEY, body bytea)")
        await conn.copy_records_to_table(
            "bench_bodies", records=[(n, s.body) for n, s in enumerate(bodies)]
        )
        for first in range(1, window.events + 1, CHUNK):
            last = min(window.events, first + CHUNK - 1)
            await conn.execute(
                _INSERT,
                SOURCE,
                _HEADERS,
                first,
                last,
                window.now,
                window.days * 86400.0,
                window.events,
                len(bodies),
                until,
                DEAD_PERCENT,
                RETRIED_PERCENT,
                max_attempts,
                timeout=None,
            )
            if progress is not None:
                progress(last, time.perf_counter() - started)
        stored = time.perf_counter() - started
        await conn.execute(_VACUUM, timeout=None)
        counts = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM events) AS events,
                   (SELECT count(*) FROM deliveries) AS deliveries,
                   (SELECT count(*) FROM deliveries WHERE status = 'dead') AS dead,
                   (SELECT count(*) FROM events WHERE received_at < $1) AS expired_events
            """,
            window.expired_before,
            timeout=None,
        )
    finally:
        await conn.close()
    return {
        **dict(counts),
        "seconds_insert": round(stored, 1),
        "seconds_vacuum": round(time.perf_counter() - started - stored, 1),
    }


async def vacuum(url: str) -> None:
    """What autovacuum would have done by now: the visibility map set, statistics current."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(_VACUUM, timeout=None)
    finally:
        await conn.close()


async def relation_sizes(url: str) -> dict[str, Any]:
    """Bytes of ``events`` and ``deliveries``: each table's heap, its TOAST (table and
    index), each index, every index together (``pg_indexes_size``) and the whole
    database."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            """
            SELECT c.relname AS name, pg_relation_size(c.oid) AS heap,
                   coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
                   pg_indexes_size(c.oid) AS indexes, c.reltuples::bigint AS rows_estimated
            FROM pg_class c
            WHERE c.oid IN ('events'::regclass, 'deliveries'::regclass)
            ORDER BY c.relname DESC
            """
        )
        indexes = await conn.fetch(
            """
            SELECT t.relname AS "table", i.relname AS name, pg_relation_size(i.oid) AS bytes
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE x.indrelid IN ('events'::regclass, 'deliveries'::regclass)
            ORDER BY t.relname DESC, i.relname
            """
        )
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {
        "database": database,
        "tables": {r["name"]: dict(r) for r in tables},
        "indexes": [dict(r) for r in indexes],
    }
