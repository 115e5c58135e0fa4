"""The console's own queries: bounded body search, activity per minute, failure causes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import orjson
import pytest

from gateway.store import console
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.sql import QUERIES
from testkit.factories import event, subscriber
from tests.integration.console.conftest import settle_due


async def test_the_body_search_looks_only_inside_its_window(db: Database) -> None:
    body = orjson.dumps({"order_number": 1042})
    [old, new], _ = await insert_batch(
        db, [msgspec.structs.replace(event(f"wh-{i}"), body=body) for i in range(2)]
    )
    await db.pool.execute(
        "UPDATE events SET received_at = now() - interval '2 days' WHERE id = $1", old.event_id
    )
    since = datetime.now(UTC) - timedelta(days=1)
    found = await console.search_bodies(db, "1042", since, limit=10, timeout_ms=2000)
    assert found.complete
    assert [e.id for e in found.events] == [new.event_id]
    assert (await console.search_bodies(db, "1043", since, limit=10, timeout_ms=2000)).events == []


async def test_a_body_search_that_runs_too_long_is_stopped_and_says_so(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = "SELECT pg_sleep(5), $1::text, $2::timestamptz, $3::int, $4::text, $5::text"
    monkeypatch.setitem(QUERIES, "console_search_bodies", slow)
    since = datetime.now(UTC)
    found = await console.search_bodies(db, "x", since, limit=1, timeout_ms=50)
    assert found == console.BodySearch([], complete=False)
    async with db.pool.acquire() as conn:  # the timeout was the transaction's alone
        assert await conn.fetchval("SHOW statement_timeout") != "50ms"


async def test_activity_counts_each_of_the_last_minutes(db: Database) -> None:
    await subscriber(db)
    await insert_batch(db, [event(f"wh-{i}") for i in range(4)])
    await settle_due(db, status="succeeded", code=200)
    minutes = await console.activity(db, 60)
    assert len(minutes) == 60
    assert minutes[-1].minute == max(m.minute for m in minutes)
    assert sum(m.received for m in minutes) == 4
    assert (sum(m.attempts for m in minutes), sum(m.delivered for m in minutes)) == (4, 4)


async def test_failure_causes_group_a_subscribers_failed_attempts(db: Database) -> None:
    sub = await subscriber(db)
    other = await subscriber(db, name="other", event_types=("refunds/*",))
    await insert_batch(db, [event(f"wh-{i}") for i in range(2)])
    await settle_due(db, status="pending", code=502)
    await db.pool.execute("UPDATE deliveries SET next_attempt_at = now()")
    await settle_due(db, status="dead", code=None)
    causes = await console.failure_causes(db, sub.id, 3600)
    # as many of each: the most recent cause first
    assert [(c.outcome, c.status_code, c.error, c.count) for c in causes] == [
        ("connection_error", None, "ClientConnectorError: refused", 2),
        ("http_error", 502, "HTTP 502", 2),
    ]
    assert await console.failure_causes(db, other.id, 3600) == []
