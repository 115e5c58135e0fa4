"""What the operator console reads beyond the API's look-ups: activity per minute, body
search over a recent window, every attempt of an event, a subscriber's failure causes."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime

import asyncpg

from gateway.domain.broker_destination import BrokerDestination
from gateway.store.database import Database
from gateway.store.records import Attempt, EventSummary, destination_of
from gateway.store.sql import QUERIES

__all__ = [
    "BodySearch",
    "FailureCause",
    "Minute",
    "activity",
    "destinations",
    "event_attempts",
    "event_bodies",
    "failure_causes",
    "search_bodies",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Minute:
    """One minute of traffic: events received, delivery attempts, successful ones."""

    minute: datetime
    received: int
    attempts: int
    delivered: int


@dataclasses.dataclass(frozen=True, slots=True)
class BodySearch:
    events: list[EventSummary]
    complete: bool
    """False when the statement timeout stopped the scan before the window was searched."""


@dataclasses.dataclass(frozen=True, slots=True)
class FailureCause:
    outcome: str
    status_code: int | None
    error: str
    count: int
    last_seen: datetime
    last_event_id: str


async def activity(db: Database, minutes: int) -> list[Minute]:
    """The last ``minutes`` minutes, oldest first, zeros included."""
    rows = await db.fetch("console_activity", minutes)
    return [
        Minute(r["minute"], int(r["received"]), int(r["attempts"]), int(r["delivered"]))
        for r in rows
    ]


async def search_bodies(
    db: Database,
    needle: str,
    since: datetime,
    *,
    source: str | None = None,
    event_type_like: str | None = None,
    limit: int,
    timeout_ms: int,
) -> BodySearch:
    """Events received since ``since`` whose raw body contains ``needle`` (exact bytes),
    newest first; the scan gives up after ``timeout_ms`` (``complete`` is then False)."""
    args = (needle, since, limit, source, event_type_like)
    async with db.transaction() as conn:
        await conn.execute(QUERIES["console_statement_timeout"], f"{int(timeout_ms)}ms")
        try:
            rows = await conn.fetch(QUERIES["console_search_bodies"], *args)
        except asyncpg.QueryCanceledError:
            return BodySearch([], complete=False)
    return BodySearch([EventSummary.from_row(r) for r in rows], complete=True)


async def event_bodies(db: Database, event_ids: list[str]) -> dict[str, tuple[str, bytes]]:
    """(source, raw body) of each of ``event_ids`` still stored."""
    rows = await db.fetch("console_event_bodies", event_ids)
    return {r["id"]: (r["source"], r["body"]) for r in rows}


async def event_attempts(
    db: Database, event_id: str, limit: int = 5000
) -> dict[str, list[Attempt]]:
    """Every attempt of every delivery of an event, by delivery id, oldest first."""
    found: dict[str, list[Attempt]] = defaultdict(list)
    for row in await db.fetch("console_event_attempts", event_id, limit):
        found[row["delivery_id"]].append(Attempt.from_row(row))
    return dict(found)


async def failure_causes(
    db: Database, subscriber_id: str, window_seconds: float, limit: int = 20
) -> list[FailureCause]:
    """Failed attempts of the window grouped by outcome, status code and error text."""
    rows = await db.fetch("console_failure_causes", subscriber_id, window_seconds, limit)
    return [
        FailureCause(
            outcome=r["outcome"],
            status_code=r["status_code"],
            error=r["error"],
            count=int(r["n"]),
            last_seen=r["last_seen"],
            last_event_id=r["last_event_id"],
        )
        for r in rows
    ]


async def destinations(db: Database) -> dict[str, tuple[str | None, BrokerDestination | None]]:
    """Each subscriber's id -> its URL, or its broker destination."""
    rows = await db.fetch("subscriber_destinations")
    return {r["id"]: (r["url"], destination_of(r["destination"])) for r in rows}
