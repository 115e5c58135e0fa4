"""Events: the group-commit insert with its fan-out, and look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.store.database import Database
from gateway.store.errors import NotFound
from gateway.store.records import Event, EventSummary, IngestEvent, IngestResult

__all__ = ["get_event", "insert_batch", "list_events", "notify_deliveries"]


async def insert_batch(
    db: Database, batch: Sequence[IngestEvent]
) -> tuple[list[IngestResult], int]:
    """Store ``batch`` and its deliveries in one statement (see :func:`notify_deliveries`).

    Returns one result per input (in order) and the number of deliveries created.
    A duplicate (same source and external id, in the database or earlier in the batch)
    gets the id of the stored event and creates nothing.
    """
    columns = list(zip(*[_columns(e) for e in batch], strict=True))
    row = await db.fetchrow("insert_events", *map(list, columns))
    assert row is not None
    inserted = set(row["inserted_ids"] or ())
    deliveries = int(row["deliveries"])
    missing = [e for e in batch if e.id not in inserted]
    existing: dict[tuple[str, str], str] = {}
    if missing:  # duplicates: committed before, by this batch's statement or another's
        rows = await db.fetch(
            "find_events_by_external_id",
            [e.source for e in missing],
            [e.external_id for e in missing],
        )
        existing = {(r["source"], r["external_id"]): r["id"] for r in rows}
    results = [
        IngestResult(event.id, False)
        if event.id in inserted
        else IngestResult(existing[(event.source, event.external_id)], True)
        for event in batch
    ]
    return results, deliveries


async def notify_deliveries(db: Database) -> None:
    """Wake every dispatcher listening: new deliveries are due (its own transaction)."""
    await db.fetchval("notify_deliveries")


def _columns(e: IngestEvent) -> tuple[object, ...]:
    return (
        e.id,
        e.source,
        e.external_id,
        e.event_type,
        e.ordering_key,
        e.content_type,
        e.headers_json,
        e.body,
    )


async def get_event(db: Database, event_id: str) -> Event:
    row = await db.fetchrow("get_event", event_id)
    if row is None:
        raise NotFound(f"no event {event_id}")
    result: Event = Event.from_row(row)
    return result


async def list_events(
    db: Database,
    *,
    source: str | None = None,
    event_type_like: str | None = None,
    external_id: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[EventSummary]:
    """Newest first; ``before`` is the id of the last event of the previous page."""
    rows = await db.fetch(
        "list_events",
        source,
        event_type_like,
        external_id,
        received_from,
        received_to,
        before,
        limit,
    )
    return [EventSummary.from_row(r) for r in rows]
