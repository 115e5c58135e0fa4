"""Subscribers' flow rows: in-flight counts, token buckets and circuit breakers.

One ``subscriber_flow`` row per subscriber, shared by every replica. The claim reads and
charges it (store/claim.py); whatever else changes it locks it first with :func:`lock`,
in subscriber id order like the claim, after any delivery rows it needs (the one lock
order of the store: deliveries, then flow rows, then ordering keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from gateway.store.database import Connection, Database
from gateway.store.records import Circuit, SubscriberFlow
from gateway.store.sql import QUERIES

__all__ = ["circuit_states", "get_flows", "lock", "release_in_flight", "reset", "write"]


async def lock(
    conn: Connection, subscriber_ids: Iterable[str]
) -> tuple[datetime, dict[str, Circuit]]:
    """Lock the flow rows of ``subscriber_ids``; the database's clock and each circuit."""
    rows = await conn.fetch(QUERIES["lock_flow"], sorted(set(subscriber_ids)))
    now: datetime = rows[0]["now"] if rows else datetime.now(UTC)
    return now, {r["subscriber_id"]: Circuit.from_row(r) for r in rows}


async def write(conn: Connection, changes: Mapping[str, tuple[int, Circuit]]) -> None:
    """After :func:`lock`: per subscriber, deliveries that left in_flight and its circuit."""
    ids = list(changes)
    circuits = [changes[i][1] for i in ids]
    await conn.execute(
        QUERIES["write_flow"],
        ids,
        [changes[i][0] for i in ids],
        [c.state for c in circuits],
        [c.opened_at for c in circuits],
        [c.open_until for c in circuits],
        [c.probe_until for c in circuits],
        [c.consecutive_failures for c in circuits],
        [c.window_started_at for c in circuits],
        [c.window_attempts for c in circuits],
        [c.window_failures for c in circuits],
        [c.failing_since for c in circuits],
        [c.throttled_until for c in circuits],
    )


async def release_in_flight(conn: Connection, counts: Mapping[str, int]) -> None:
    """Deliveries that left in_flight unattempted (released, or their lease ran out)."""
    if not counts:
        return
    await lock(conn, counts)
    ids = list(counts)
    await conn.execute(QUERIES["release_flow"], ids, [counts[i] for i in ids])


async def reset(conn: Connection, subscriber_id: str) -> None:
    """Close the circuit and forget the failure record (a subscriber resumed)."""
    await lock(conn, [subscriber_id])
    await conn.execute(QUERIES["reset_flow"], subscriber_id)


async def get_flows(db: Database, subscriber_ids: Iterable[str]) -> dict[str, SubscriberFlow]:
    rows = await db.fetch("get_subscriber_flow", list(subscriber_ids))
    return {r["subscriber_id"]: SubscriberFlow.from_row(r) for r in rows}


async def circuit_states(db: Database) -> list[tuple[str, str, str, str]]:
    """(id, name, state, circuit state) of every subscriber."""
    rows = await db.fetch("subscriber_flow_states")
    return [(r["id"], r["name"], r["state"], r["circuit_state"]) for r in rows]
