"""Pause and resume; and the claim's cost, which a paused backlog does not change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from gateway.store import claim, subscribers
from gateway.store.database import Database
from gateway.store.sql import QUERIES
from testkit.factories import event, store_events, subscriber
from testkit.sinks import answer
from tests.integration.delivery.conftest import StartDispatcher, StartSubscriber


async def test_a_paused_subscriber_gets_nothing_and_is_charged_nothing_until_resumed(
    db: Database, start_dispatcher: StartDispatcher, start_subscriber: StartSubscriber
) -> None:
    paused_server = await start_subscriber(answer(200))
    other_server = await start_subscriber(answer(200))
    paused = await subscriber(db, url=paused_server.url, name="paused")
    await subscriber(db, url=other_server.url, name="other")
    await subscribers.pause(db, paused.id, "warehouse maintenance")
    await store_events(db, [event(f"o-{i}") for i in range(5)])
    await start_dispatcher()
    await other_server.wait_for(5)
    row = await db.pool.fetchrow(
        "SELECT count(*) AS n, sum(total_attempts) AS charged FROM deliveries"
        " WHERE subscriber_id = $1 AND status = 'pending'",
        paused.id,
    )
    assert row is not None and (row["n"], row["charged"]) == (5, 0)
    assert paused_server.arrivals == []

    resumed = await subscribers.resume(db, paused.id)
    assert (resumed.state, resumed.state_reason) == ("active", None)
    await paused_server.wait_for(5)


async def test_resuming_a_disabled_subscriber_closes_its_circuit(db: Database) -> None:
    sub = await subscriber(db, url="http://127.0.0.1:9/hook")
    await db.pool.execute(
        "UPDATE subscriber_flow SET circuit_state = 'open', open_until = now() + interval '1 h',"
        " consecutive_failures = 12, failing_since = now()"
    )
    await db.pool.execute("UPDATE subscribers SET state = 'disabled', state_reason = 'gone'")
    await subscribers.resume(db, sub.id)
    row = await db.pool.fetchrow("SELECT * FROM subscriber_flow")
    assert row is not None
    assert (row["circuit_state"], row["consecutive_failures"], row["failing_since"]) == (
        "closed",
        0,
        None,
    )


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _backlog(db: Database, subscriber_id: str, count: int, prefix: str) -> None:
    await db.pool.execute(
        """
        WITH e AS (
            INSERT INTO events (id, source, external_id, event_type, body)
            SELECT $2 || g, 'shop', $2 || g, 'orders/create', '{}'::bytea
            FROM generate_series(1, $3) g
            RETURNING id, received_at
        )
        INSERT INTO deliveries (id, event_id, subscriber_id, next_attempt_at)
        SELECT 'dlv_' || e.id, e.id, $1, e.received_at - interval '1 minute' FROM e
        """,
        subscriber_id,
        prefix,
        count,
    )
    await db.pool.execute("ANALYZE deliveries")


async def test_a_large_paused_backlog_is_never_read_by_the_claim(db: Database) -> None:
    paused = await subscriber(db, url="http://127.0.0.1:9/a", name="paused")
    active = await subscriber(db, url="http://127.0.0.1:9/b", name="active")
    await _backlog(db, paused.id, 20_000, "p-")  # older than anything of the active one
    await _backlog(db, active.id, 5_000, "a-")
    await subscribers.pause(db, paused.id)
    async with db.pool.acquire() as conn:
        attempt = conn.transaction()
        await attempt.start()
        [[raw]] = await conn.fetch(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + QUERIES["claim_deliveries"], 64, 30.0, "t", None
        )
        await attempt.rollback()
    plan = json.loads(raw)[0]["Plan"]
    touched = sum(
        n["Actual Rows"] * n["Actual Loops"]
        for n in _nodes(plan)
        if n.get("Relation Name") == "deliveries"
    )
    # The claim read one probe, then the 64 rows it took (picked, then updated where it
    # locked them), never one of the 20,000 older paused ones.
    assert touched <= 4 * 64, touched
    # Nor looked its rows up again by key: an index as deep as every delivery ever kept.
    assert "deliveries_pkey" not in {n.get("Index Name") for n in _nodes(plan)}
    claimed = await claim.claim(db, 64, 30, "t")
    assert len(claimed) == 64
    assert {c.subscriber_id for c in claimed} == {active.id}
