"""Deliveries: the claim, settling attempts, leases, and the operator's look-ups."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.database import Database
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Attempt, ClaimedDelivery, Delivery, Settlement
from gateway.store.sql import QUERIES

__all__ = [
    "claim",
    "get_delivery",
    "list_attempts",
    "list_deliveries",
    "release",
    "release_expired_leases",
    "retry",
    "settle",
]


async def claim(
    db: Database, limit: int, lease_seconds: float, token: str
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries (``FOR UPDATE SKIP LOCKED``)."""
    rows = await db.fetch("claim_deliveries", limit, lease_seconds, token)
    return [ClaimedDelivery.from_row(r) for r in rows]


async def settle(db: Database, settlements: Sequence[Settlement]) -> set[str]:
    """Record each attempt and move each delivery on, in one transaction.

    Returns the ids whose lease was still ours (others were reclaimed meanwhile; their
    attempt is recorded all the same).
    """
    results = [s.result for s in settlements]
    async with db.transaction() as conn:
        await conn.execute(
            QUERIES["record_attempts"],
            [s.delivery_id for s in settlements],
            [s.attempt for s in settlements],
            [r.started_at for r in results],
            [r.duration_ms for r in results],
            [r.status_code for r in results],
            [r.outcome for r in results],
            [r.error for r in results],
            [r.response_snippet for r in results],
        )
        rows = await conn.fetch(
            QUERIES["finish_deliveries"],
            [s.delivery_id for s in settlements],
            [s.lease_token for s in settlements],
            [s.status for s in settlements],
            [s.next_attempt_at for s in settlements],
            [r.status_code for r in results],
            [r.error for r in results],
        )
    return {r["id"] for r in rows}


async def release(db: Database, ids: Sequence[str], token: str) -> int:
    """Return claimed but unattempted deliveries to pending without charging an attempt."""
    rows = await db.fetch("release_deliveries", list(ids), token)
    return len(rows)


async def release_expired_leases(db: Database, limit: int = 1000) -> int:
    """Put deliveries whose lease ran out (a crashed worker) back to pending."""
    rows = await db.fetch("release_expired_leases", limit)
    return len(rows)


async def get_delivery(db: Database, delivery_id: str) -> Delivery:
    row = await db.fetchrow("get_delivery", delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    result: Delivery = Delivery.from_row(row)
    return result


async def list_deliveries(
    db: Database,
    *,
    status: str | None = None,
    subscriber_id: str | None = None,
    event_id: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    rows = await db.fetch("list_deliveries", status, subscriber_id, event_id, after, limit)
    return [Delivery.from_row(r) for r in rows]


async def list_attempts(db: Database, delivery_id: str) -> list[Attempt]:
    rows = await db.fetch("list_attempts", delivery_id)
    return [Attempt.from_row(r) for r in rows]


async def retry(db: Database, delivery_id: str) -> None:
    """Send a finished delivery again, with a fresh set of attempts, and wake a dispatcher."""
    async with db.transaction() as conn:
        retried = await conn.fetchval(QUERIES["retry_delivery"], delivery_id)
        if retried is not None:
            await conn.execute(QUERIES["notify_deliveries"])
    if retried is None:
        await get_delivery(db, delivery_id)  # raises NotFound
        raise Conflict("only a dead, succeeded or cancelled delivery can be retried")
