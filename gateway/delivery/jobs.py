"""Runs background jobs — bulk retries of dead letters, replays of a source's events.

Any worker runs them: a job is claimed with a lease, done in batches (each its own
transaction), and its progress and cursor recorded after every batch, renewing the
lease. A job whose worker died is picked up by another once the lease runs out, from
its cursor; a batch done twice changes nothing (only dead letters are retried, only
finished deliveries replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime
from typing import Any

from gateway.config import DeliveryConfig
from gateway.observability import log_event
from gateway.store import StoreError, jobs, replay
from gateway.store.database import Database
from gateway.store.records import DeliveryFilter, Job

__all__ = ["JobRunner", "dead_letter_filter"]

log = logging.getLogger("gateway.jobs")
LEASE_SECONDS = 60.0


def dead_letter_filter(params: dict[str, Any]) -> DeliveryFilter:
    """The filter a ``retry_dead`` job was created with."""
    return DeliveryFilter(
        status="dead",
        subscriber_id=params.get("subscriber_id"),
        source=params.get("source"),
        event_type_like=params.get("event_type_like"),
        since=_time(params.get("since")),
        until=_time(params.get("until")),
    )


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class JobRunner:
    """One per worker process; one job at a time, polled every ``poll_interval_seconds``."""

    def __init__(self, db: Database, config: DeliveryConfig) -> None:
        self.db = db
        self.batch = config.job_batch_size
        self.poll = config.poll_interval_seconds
        self.token = secrets.token_hex(12)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="jobs")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                job = await jobs.claim(self.db, self.token, LEASE_SECONDS)
                if job is not None:
                    await self.run(job)
                    continue
            except StoreError as exc:
                log.warning("job runner: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll)

    async def run(self, job: Job) -> None:
        """Work through ``job`` batch by batch until it is done or this process stops."""
        log_event(log, logging.INFO, "job started", job_id=job.id, kind=job.kind)
        cursor = job.cursor
        try:
            while not self._stopping.is_set():
                cursor, done = await self.step(job, cursor)
                if not await jobs.advance(self.db, job.id, self.token, done, cursor, LEASE_SECONDS):
                    return  # the lease went to another worker
                if cursor is None or cursor.get("finished"):
                    await jobs.finish(self.db, job.id, self.token)
                    log_event(log, logging.INFO, "job finished", job_id=job.id)
                    return
        except (StoreError, ValueError, KeyError) as exc:
            await jobs.finish(self.db, job.id, self.token, error=str(exc)[:500])
            log_event(log, logging.WARNING, "job failed", job_id=job.id, error=str(exc))

    async def step(self, job: Job, cursor: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
        """One batch of ``job`` from ``cursor``: the next cursor (``finished`` when done)
        and how many deliveries the batch sent again (or events it replayed)."""
        if job.kind == "retry_dead":
            return await self._retry_step(job, cursor)
        return await self._replay_step(job, cursor)

    async def _retry_step(
        self, job: Job, cursor: dict[str, Any] | None
    ) -> tuple[dict[str, Any], int]:
        after = (cursor or {}).get("after", "")
        last, retried = await replay.retry_dead_letters(
            self.db, dead_letter_filter(job.params), after, self.batch
        )
        if last is None:
            return {"after": after, "finished": True}, 0
        return {"after": last}, retried

    async def _replay_step(
        self, job: Job, cursor: dict[str, Any] | None
    ) -> tuple[dict[str, Any], int]:
        p = job.params
        at = datetime.fromisoformat((cursor or {}).get("at", "0001-01-01T00:00:00+00:00"))
        seq = int((cursor or {}).get("seq", 0))
        position, looked_at = await replay.replay_source_page(
            self.db,
            p["source"],
            _time(p.get("since")),
            _time(p.get("until")),
            (at, seq),
            p["subscriber_id"],
            self.batch,
        )
        if position is None:
            return {"at": at.isoformat(), "seq": seq, "finished": True}, 0
        return {"at": position[0].isoformat(), "seq": position[1]}, looked_at
