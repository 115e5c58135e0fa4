"""Retention on tens of thousands of rows: what is old and finished goes; work stays."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from gateway.config import RetentionConfig
from gateway.maintenance.retention import Retention
from gateway.observability import Metrics
from gateway.store import tokens
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import IngestEvent, IngestResult
from gateway.store.sql import QUERIES
from testkit.bulkdata import seed, seed_subscribers
from testkit.factories import event


@pytest.fixture
async def subs(db: Database) -> list[str]:
    return await seed_subscribers(db.pool, ["warehouse", "erp"])


@pytest.fixture
async def other_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def retention(db: Database, **config: Any) -> tuple[Retention, Metrics]:
    metrics = Metrics()
    return Retention(db, RetentionConfig(**config), metrics), metrics


async def count(db: Database, sql: str, *args: Any) -> int:
    return int(await db.pool.fetchval(sql, *args))


async def events_by_prefix(db: Database, prefix: str) -> int:
    return await count(db, "SELECT count(*) FROM events WHERE external_id LIKE $1", f"{prefix}%")


async def test_old_delivered_events_go_and_pending_in_flight_and_recent_dead_work_stays(
    db: Database, subs: list[str]
) -> None:
    pool = db.pool
    await seed(pool, count=9_000, age_days=40, subscriber_ids=subs, attempts=2, prefix="done-")
    await seed(pool, count=1_000, age_days=40, subscriber_ids=subs, status="pending", prefix="p-")
    await seed(pool, count=500, age_days=40, subscriber_ids=subs, status="in_flight", prefix="f-")
    # died 5 days ago: within the 90 days of dead-letter retention
    await seed(
        pool,
        count=1_500,
        age_days=40,
        subscriber_ids=subs,
        status="dead",
        attempts=3,
        finished_after_days=35,
        prefix="dead-",
    )
    # died 100 days ago: past it
    await seed(pool, count=500, age_days=120, subscriber_ids=subs, status="dead", prefix="buried-")
    await seed(pool, count=2_500, age_days=2, subscriber_ids=subs, prefix="young-")
    runner, metrics = retention(db, batch_size=700, attempts_days=60)

    result = await runner.run_once()

    assert result.ran
    assert await events_by_prefix(db, "done-") == 0
    assert await events_by_prefix(db, "buried-") == 0
    for prefix, kept in (("p-", 1_000), ("f-", 500), ("dead-", 1_500), ("young-", 2_500)):
        assert await events_by_prefix(db, prefix) == kept, prefix
    assert await count(db, "SELECT count(*) FROM deliveries") == 2 * 5_500
    kept_attempts = 2 * (1_000 + 500) + 2 * 1_500 * 3 + 2 * 2_500
    assert await count(db, "SELECT count(*) FROM delivery_attempts") == kept_attempts
    assert result.deleted == {
        "attempts": 1_000,  # of the dead letters past 60 days, first
        "deliveries": 18_000,
        "dead_letters": 1_000,
        "events": 9_500,
    }
    sample = metrics.registry.get_sample_value
    assert sample("gateway_retention_deleted_total", {"kind": "events"}) == 9_500
    assert sample("gateway_retention_deleted_total", {"kind": "dead_letters"}) == 1_000
    assert sample("gateway_retention_runs_total", {"result": "completed"}) == 1
    assert sample("gateway_retention_last_run_timestamp_seconds") > 0


async def test_an_event_waits_for_the_last_of_its_deliveries_to_finish(
    db: Database, subs: list[str]
) -> None:
    await seed(db.pool, count=3_000, age_days=40, subscriber_ids=subs, prefix="mixed-")
    # one subscriber still has to receive half of them (a replay, say)
    await db.pool.execute(
        "UPDATE deliveries SET status = 'pending', completed_at = NULL"
        " WHERE subscriber_id = $1 AND event_id IN"
        " (SELECT id FROM events WHERE (substr(external_id, 7))::int % 2 = 0)",
        subs[0],
    )
    runner, _ = retention(db, batch_size=500, finished_deliveries_days=0)

    await runner.run_once()

    assert await events_by_prefix(db, "mixed-") == 1_500
    assert await count(db, "SELECT count(*) FROM deliveries WHERE status = 'pending'") == 1_500


async def test_a_source_can_keep_its_events_for_fewer_or_more_days_than_the_default(
    db: Database, subs: list[str]
) -> None:
    for source in ("shop", "github", "stripe"):
        await seed(db.pool, count=1_000, age_days=10, subscriber_ids=subs, source=source)
    runner, _ = retention(
        db, events_days=30, finished_deliveries_days=0, sources={"shop": 7, "stripe": 0}
    )

    await runner.run_once()

    by_source = dict(await db.pool.fetch("SELECT source, count(*) FROM events GROUP BY source"))
    assert by_source == {"github": 1_000, "stripe": 1_000}


async def test_attempts_expire_on_their_own_while_their_delivery_is_kept(
    db: Database, subs: list[str]
) -> None:
    await seed(db.pool, count=2_000, age_days=3, subscriber_ids=subs, attempts=3, prefix="ok-")
    await seed(
        db.pool,
        count=500,
        age_days=3,
        subscriber_ids=subs,
        status="pending",
        attempts=2,
        prefix="retrying-",
    )
    runner, _ = retention(db, batch_size=700, attempts_days=1)

    result = await runner.run_once()

    assert result.deleted == {"attempts": 2 * 2_000 * 3}
    assert await count(db, "SELECT count(*) FROM deliveries") == 2 * 2_500
    assert await count(db, "SELECT count(*) FROM delivery_attempts") == 2 * 500 * 2


async def test_finished_deliveries_can_go_before_their_events(
    db: Database, subs: list[str]
) -> None:
    await seed(db.pool, count=3_000, age_days=10, subscriber_ids=subs, attempts=1)
    runner, _ = retention(db, finished_deliveries_days=7, events_days=30)

    result = await runner.run_once()

    assert result.deleted == {"deliveries": 6_000}
    assert await count(db, "SELECT count(*) FROM events") == 3_000
    assert await count(db, "SELECT count(*) FROM delivery_attempts") == 0


async def test_zero_days_keeps_everything(db: Database, subs: list[str]) -> None:
    await seed(db.pool, count=2_000, age_days=400, subscriber_ids=subs, status="dead")
    runner, _ = retention(
        db, events_days=0, finished_deliveries_days=0, attempts_days=0, dead_letter_days=0
    )

    result = await runner.run_once()

    assert result.ran
    assert result.deleted == {}
    assert await count(db, "SELECT count(*) FROM events") == 2_000


async def test_a_round_is_skipped_while_another_replica_holds_the_lock(
    db: Database, subs: list[str], other_connection: asyncpg.Connection
) -> None:
    await seed(db.pool, count=1_000, age_days=40, subscriber_ids=subs)
    assert await other_connection.fetchval(QUERIES["retention_try_lock"])
    runner, metrics = retention(db)

    skipped = await runner.run_once()

    assert not skipped.ran
    assert await count(db, "SELECT count(*) FROM events") == 1_000
    sample = metrics.registry.get_sample_value
    assert sample("gateway_retention_runs_total", {"result": "skipped"}) == 1

    await other_connection.fetchval(QUERIES["retention_unlock"])
    assert (await runner.run_once()).ran
    assert await count(db, "SELECT count(*) FROM events") == 0


async def test_an_event_whose_delivery_is_being_replayed_is_left_for_the_next_round(
    db: Database, subs: list[str], other_connection: asyncpg.Connection
) -> None:
    await seed(db.pool, count=2_000, age_days=40, subscriber_ids=subs)
    replayed = await db.pool.fetchval("SELECT id FROM deliveries ORDER BY id LIMIT 1")
    runner, _ = retention(db, finished_deliveries_days=0, batch_size=300)
    async with other_connection.transaction():  # a replay holds the row; retention never waits
        await other_connection.execute(
            "UPDATE deliveries SET status = 'pending', completed_at = NULL WHERE id = $1",
            replayed,
        )
        await runner.run_once()
        assert await count(db, "SELECT count(*) FROM events") == 1

    await runner.run_once()  # the replay committed: the delivery is pending, the event stays
    assert await count(db, "SELECT count(*) FROM events") == 1
    assert await count(db, "SELECT count(*) FROM deliveries WHERE id = $1", replayed) == 1


async def test_a_round_is_logged_with_what_it_removed(
    db: Database, subs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    await seed(db.pool, count=1_200, age_days=40, subscriber_ids=subs)
    runner, _ = retention(db, batch_size=500, finished_deliveries_days=0)

    with caplog.at_level(logging.INFO, logger="gateway.maintenance.retention"):
        await runner.run_once()

    (record,) = [r for r in caplog.records if r.getMessage() == "retention round"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["deleted_events"] == 1_200
    assert fields["deleted_attempts"] == 2_400  # older than the 14 days of attempts_days
    assert fields["deleted_dead_letters"] == 0
    assert fields["duration_ms"] >= 0


async def test_a_revocation_goes_an_hour_after_its_token_expired_and_not_before(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    leeway = 120.0
    kept = {
        "expired-a-minute-ago": now - timedelta(minutes=1),
        "expired-within-the-hour-and-leeway": now - timedelta(seconds=3600 + leeway - 30),
        "valid-for-a-day": now + timedelta(days=1),
        "expiry-unknown": None,
    }
    gone = {f"expired-{i}-hours-ago": now - timedelta(hours=i) for i in range(2, 7)}
    for jti, expires in {**kept, **gone}.items():
        await tokens.revoke(db, jti, expires, None, "test")
    metrics = Metrics()
    runner = Retention(db, RetentionConfig(batch_size=2), metrics, token_leeway_seconds=leeway)

    result = await runner.run_once()

    left = await db.pool.fetch("SELECT jti FROM revoked_tokens")
    assert {r["jti"] for r in left} == set(kept)
    assert result.deleted == {"revoked_tokens": len(gone)}
    sample = metrics.registry.get_sample_value
    assert sample("gateway_retention_deleted_total", {"kind": "revoked_tokens"}) == len(gone)
    assert await tokens.revoked_jtis(db, leeway) == set(kept)


async def test_a_body_remembered_against_replays_is_forgotten_with_its_event(
    db: Database,
) -> None:
    """The replay window cannot outlast the event: retention takes its digest with it."""

    def copy(external_id: str) -> IngestEvent:
        return msgspec.structs.replace(
            event(external_id), body=b'{"order": 7}', replay_window_seconds=7 * 86400.0
        )

    [first], _ = await insert_batch(db, [copy("wh-1")])
    await db.pool.execute("UPDATE events SET received_at = now() - interval '4 days'")
    [inside], _ = await insert_batch(db, [copy("wh-2")])
    assert inside == IngestResult(first.event_id, True)

    runner, _ = retention(db, sources={"shop": 3})
    assert (await runner.run_once()).deleted["events"] == 1
    [after], _ = await insert_batch(db, [copy("wh-3")])
    assert after.duplicate is False
