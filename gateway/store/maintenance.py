"""Data lifecycle: the backlog as the metrics see it, and retention's batched deletes.

Retention runs on one connection that holds a session advisory lock (one replica at a
time); every batch is its own short transaction that locks only the rows it removes
(``FOR UPDATE SKIP LOCKED``), so ingest and delivery never wait behind it for long.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import asyncpg

from gateway.store.database import Database, translate_errors
from gateway.store.sql import QUERIES

__all__ = [
    "BacklogCount",
    "Batch",
    "Cursor",
    "RetentionSession",
    "backlog",
    "retention_session",
]

K = TypeVar("K", str, int)
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
LOCK_TIMEOUT = "2s"
"""A batch that would wait longer than this for a row lock gives up (the round retries)."""


@dataclasses.dataclass(frozen=True, slots=True)
class BacklogCount:
    subscriber: str
    state: str  # active | paused | disabled
    status: str  # queued | pending | in_flight | dead
    count: int
    subscriber_id: str = ""


async def backlog(db: Database) -> list[BacklogCount]:
    """Deliveries pending, in flight and dead per subscriber, zeros included."""
    rows = await db.fetch("backlog_by_subscriber", None)
    return [
        BacklogCount(r["name"], r["state"], r["status"], int(r["count"]), r["id"]) for r in rows
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor(Generic[K]):
    """Where a walk in (time, id) order resumes: after this row."""

    at: datetime
    id: K


@dataclasses.dataclass(frozen=True, slots=True)
class Batch(Generic[K]):
    scanned: int
    deleted: int
    cursor: Cursor[K] | None  # None when nothing was left to look at


class RetentionSession:
    """The connection that holds the retention lock; each call is one short transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @staticmethod
    def attempts_start() -> Cursor[int]:
        return Cursor(_BEGINNING, 0)

    @staticmethod
    def events_start() -> Cursor[str]:
        return Cursor(_BEGINNING, "")

    async def _fetchrow(self, name: str, *args: Any) -> asyncpg.Record:
        with translate_errors():
            row = await self._conn.fetchrow(QUERIES[name], *args)
        assert row is not None
        return row

    async def delete_attempts(self, before: datetime, after: Cursor[int], limit: int) -> Batch[int]:
        """Attempts started before ``before`` of deliveries that succeeded or were cancelled."""
        row = await self._fetchrow("retention_delete_attempts", before, after.at, after.id, limit)
        return _batch(row)

    async def delete_finished_deliveries(self, before: datetime, limit: int) -> int:
        """Deliveries that succeeded or were cancelled before ``before``."""
        row = await self._fetchrow("retention_delete_finished_deliveries", before, limit)
        return int(row[0])

    async def delete_dead_deliveries(self, before: datetime, limit: int) -> int:
        """Dead letters that died before ``before``."""
        row = await self._fetchrow("retention_delete_dead_deliveries", before, limit)
        return int(row[0])

    async def delete_revoked_tokens(self, before: datetime, limit: int) -> int:
        """Revocations of tokens that expired before ``before`` (they are refused anyway)."""
        row = await self._fetchrow("retention_delete_revoked_tokens", before, limit)
        return int(row[0])

    async def event_sources(self) -> list[str]:
        with translate_errors():
            rows = await self._conn.fetch(QUERIES["retention_event_sources"])
        return [r["source"] for r in rows]

    async def delete_events(
        self,
        source: str,
        before: datetime,
        dead_before: datetime | None,
        after: Cursor[str],
        limit: int,
    ) -> Batch[str]:
        """Events of ``source`` received before ``before`` whose deliveries are all finished.

        A dead delivery counts as finished once it died before ``dead_before`` (``None``:
        dead letters are kept for ever, and so are their events).
        """
        row = await self._fetchrow(
            "retention_delete_events",
            source,
            before,
            after.at,
            after.id,
            dead_before or _BEGINNING,
            limit,
        )
        return _batch(row)


def _batch(row: asyncpg.Record) -> Batch[Any]:
    cursor = None if row["last_at"] is None else Cursor(row["last_at"], row["last_id"])
    return Batch(int(row["scanned"]), int(row["deleted"]), cursor)


@contextlib.asynccontextmanager
async def retention_session(db: Database) -> AsyncIterator[RetentionSession | None]:
    """A session holding the retention lock, or ``None`` when another replica holds it."""
    async with db.session() as conn:
        if not await conn.fetchval(QUERIES["retention_try_lock"]):
            yield None
            return
        try:
            await conn.execute(QUERIES["retention_lock_timeout"], LOCK_TIMEOUT)
            yield RetentionSession(conn)
        finally:
            # The pool's reset on release frees the lock too; this says it plainly.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute(QUERIES["retention_unlock"])
