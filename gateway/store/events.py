"""Events: the group-commit insert with its fan-out, and look-ups."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from gateway.domain.filters.judge import NONE_HOLD, Judge
from gateway.store.database import Database
from gateway.store.errors import NotFound, StoreUnavailable
from gateway.store.records import (
    Event,
    EventSummary,
    FilteredSubscriber,
    IngestEvent,
    IngestResult,
)

__all__ = [
    "filtered_subscribers",
    "get_event",
    "insert_batch",
    "list_events",
    "notify_deliveries",
    "replay_digest",
]

log = logging.getLogger("gateway.store.events")

ROUNDS = 3
"""Inserts of one batch at most: a duplicate whose first copy went away (or whose replay
window had passed) is inserted again, and only a rare race needs that twice."""

_NO_TYPE = b"\xff" * 8  # a length no event type has


async def insert_batch(
    db: Database, batch: Sequence[IngestEvent], judge: Judge | None = None
) -> tuple[list[IngestResult], int]:
    """Store ``batch`` and its deliveries in one statement (see :func:`notify_deliveries`).

    Returns one result per input (in order) and the number of deliveries created.
    A duplicate gets the id of the stored event and creates nothing: the same source
    and external id, or, within its replay window, the same source, event type and body
    (in the database or earlier in the batch). A stored event older than the window
    stops counting the moment such a copy finds it, and the copy is stored.

    With a ``judge`` (the ingress's compiled content filters), each event goes with its
    verdicts; when the statement finds that they were not made by the filters in force,
    it sets ``judge.outdated``.
    """
    results: dict[str, IngestResult] = {}
    created = 0
    todo = list(batch)
    try:
        verdicts = _verdicts(todo, judge)
    except Exception:  # they only save PostgreSQL work: never an event for them
        log.exception("content filter verdicts failed; PostgreSQL decides this batch")
        verdicts = _verdicts(todo, None)
    for _ in range(ROUNDS):
        columns = list(zip(*[_columns(e) for e in todo], strict=True))
        row = await db.fetchrow("insert_events", *map(list, columns), *verdicts, *_traces(todo))
        assert row is not None
        if judge is not None and row["filters_stale"]:
            judge.outdated = True
        inserted = set(row["inserted_ids"] or ())
        created += int(row["deliveries"])
        results.update((e.id, IngestResult(e.id, False)) for e in todo if e.id in inserted)
        todo = [e for e in todo if e.id not in inserted]
        if todo:  # duplicates: committed before, by this batch's statement or another's
            todo = await _resolve(db, todo, results)
        if not todo:
            return [results[e.id] for e in batch], created
    raise StoreUnavailable(f"{len(todo)} events kept meeting copies that went away")


def _traces(batch: Sequence[IngestEvent]) -> tuple[list[str | None] | None, ...]:
    """The traced events' trace ids and ingest span ids; ``None`` for a batch with none."""
    if all(e.trace_id is None for e in batch):
        return None, None
    return [e.trace_id for e in batch], [e.trace_span_id for e in batch]


def _verdicts(batch: Sequence[IngestEvent], judge: Judge | None) -> list[object]:
    """The judge's verdicts on ``batch`` as ``insert_events`` takes them: the events it
    could not decide on, its pairs, and what it judged by (events named by id: the same
    for every round)."""
    if judge is None:
        return [[], [], [], [], None, None]
    if not judge.subscriber_ids:  # no filter in force: nothing to judge
        return [[], [], [], [], [], []]
    undecided: list[str] = []
    events: list[str] = []
    positions: list[int] = []
    holds: list[bool] = []
    for e in batch:
        verdicts = judge.verdicts(e.source, e.id, e.event_type, e.headers_json, e.body, e.body_view)
        if verdicts is NONE_HOLD:
            continue
        if verdicts.undecided:
            undecided.append(e.id)
        for at in verdicts.holding:
            events.append(e.id)
            positions.append(at)
            holds.append(True)
        for at in verdicts.undecided:
            events.append(e.id)
            positions.append(at)
            holds.append(False)
    return [undecided, events, positions, holds, judge.subscriber_ids, judge.versions]


async def _resolve(
    db: Database, skipped: list[IngestEvent], results: dict[str, IngestResult]
) -> list[IngestEvent]:
    """Answer the skipped events that duplicate a stored one; return those to insert
    again (their first copy is gone, or its replay window has passed)."""
    rows = await db.fetch(
        "find_duplicates",
        [e.source for e in skipped],
        [e.external_id for e in skipped],
        [replay_digest(e) for e in skipped],
        [e.replay_window_seconds for e in skipped],
    )
    again: list[IngestEvent] = []
    stale: list[str] = []
    for event, found in zip(skipped, rows, strict=True):
        if found["id"] is not None and not found["stale"]:
            results[event.id] = IngestResult(found["id"], True)
            continue
        again.append(event)
        if found["stale"]:
            stale.append(found["id"])
    if stale:
        await db.fetchval("forget_replay_digests", stale)
    return again


def replay_digest(event: IngestEvent) -> bytes | None:
    """SHA-256 of the event's type and body when its source has a replay window, else
    ``None`` (the type is length-prefixed, so no type and body pair reads as another)."""
    if event.replay_window_seconds <= 0:
        return None
    digest = hashlib.sha256()
    if event.event_type is None:
        digest.update(_NO_TYPE)
    else:
        name = event.event_type.encode("utf-8", "surrogatepass")
        digest.update(len(name).to_bytes(8, "big") + name)
    digest.update(event.body)
    return digest.digest()


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
        replay_digest(e),
        e.body_view,
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
    sources = [source] if source is not None else None
    if external_id is not None and sources is None:  # the dedup key leads with the source
        sources = [r["source"] for r in await db.fetch("event_sources")]
    rows = await db.fetch(
        "list_events",
        sources,
        event_type_like,
        external_id,
        received_from,
        received_to,
        before,
        limit,
    )
    return [EventSummary.from_row(r) for r in rows]


async def filtered_subscribers(db: Database, event_id: str) -> list[FilteredSubscriber]:
    """The subscribers the event's source and type selected whose content filter kept it
    from them (see ``filtered_subscribers`` in queries.sql), by name."""
    result: list[FilteredSubscriber] = FilteredSubscriber.from_rows(
        await db.fetch("filtered_subscribers", event_id)
    )
    return result
