"""Deliveries: the operator's look-ups, plus the claim, settling and retries in one place.

The claim lives in store/claim.py, settling in store/settle.py, retries, discards and
replays in store/replay.py; they are re-exported here for callers that think in
deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store import settle as settling
from gateway.store.claim import claim, release, release_expired_leases
from gateway.store.database import Database
from gateway.store.errors import NotFound
from gateway.store.records import Attempt, Delivery, DeliveryFilter, Settlement
from gateway.store.replay import discard, retry

__all__ = [
    "claim",
    "discard",
    "get_delivery",
    "list_attempts",
    "list_deliveries",
    "release",
    "release_expired_leases",
    "retry",
    "settle",
]


async def settle(db: Database, settlements: Sequence[Settlement]) -> set[str]:
    """Record each attempt and move each delivery on (circuits untouched).

    Returns the ids whose lease was still ours (others were reclaimed meanwhile; their
    attempt is recorded all the same).
    """
    return set((await settling.settle(db, settlements)).finished)


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
    where: DeliveryFilter | None = None,
) -> list[Delivery]:
    """Deliveries in id order after ``after``; ``where`` adds source, type and time filters.

    ``where.event_type_like`` is a LIKE pattern; ``since``/``until`` bound the time the
    event was received.
    """
    f = where or DeliveryFilter()
    rows = await db.fetch(
        "list_deliveries",
        status or f.status,
        subscriber_id or f.subscriber_id,
        event_id or f.event_id,
        after,
        limit,
        f.source,
        f.event_type_like,
        f.since,
        f.until,
    )
    return [Delivery.from_row(r) for r in rows]


async def list_attempts(db: Database, delivery_id: str) -> list[Attempt]:
    rows = await db.fetch("list_attempts", delivery_id)
    return [Attempt.from_row(r) for r in rows]
