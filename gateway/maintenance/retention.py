"""Retention: old events, attempts, finished deliveries and the revocations of expired
tokens leave in small batches.

Why batched deletes and not time partitions: dedup is a unique index on (source,
external_id), and a unique index on a partitioned table must include the partition key,
so a partitioned ``events`` could no longer refuse a duplicate that arrives a day later.
An event also stays while any of its deliveries is pending or a recent dead letter, and
each source may keep its events for its own number of days; a partition could be dropped
only when every row in it may go. Batches of a few thousand rows, each its own short
transaction that locks only its rows (``SKIP LOCKED``), walk an index in time order and
resume where the last batch stopped, so kept rows are read once a round.

An event's replay digest (a source's replay window, store/events.py) goes with the event
and needs no round of its own: the insert judges a digest by its event's receipt time,
and one older than the window stops counting as soon as a copy meets it. Clearing
digests as windows pass would rewrite each event row once more (a non-HOT update: a new
row version and an entry in every index) to shrink one small index.

One replica runs a round at a time (a session advisory lock); the others skip theirs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.config import RetentionConfig
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import RETENTION_KINDS, Metrics, log_event
from gateway.store import StoreError
from gateway.store.database import Database
from gateway.store.maintenance import Cursor, RetentionSession, retention_session
from gateway.store.tokens import kept_seconds

__all__ = ["Retention", "RoundResult"]

log = logging.getLogger("gateway.maintenance.retention")


@dataclasses.dataclass(frozen=True, slots=True)
class RoundResult:
    ran: bool  # False: another replica held the lock
    deleted: dict[str, int]  # by kind: events, deliveries, dead_letters, attempts, revoked_tokens
    seconds: float


class Retention:
    """Runs a retention round every ``interval_seconds``; ``run_once`` runs one now."""

    def __init__(
        self,
        db: Database,
        config: RetentionConfig,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        token_leeway_seconds: float = 0.0,
    ) -> None:
        """``token_leeway_seconds``: how long past ``exp`` the API still takes a token
        (``api.jwt_leeway_seconds``); its revocation is kept at least that long."""
        self.db = db
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.token_leeway_seconds = token_leeway_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        """Stop at once; a batch cut short rolls back and is done again next time."""
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        delay = min(self.config.interval_seconds, 60.0)  # the first round soon after start
        while True:
            await asyncio.sleep(delay)
            delay = self.config.interval_seconds
            try:
                await self.run_once()
            except StoreError as exc:  # a lock timeout, the database away: next time
                self.metrics.retention_runs.labels("failed").inc()
                log_event(log, logging.WARNING, "retention round failed", error=str(exc))
            except Exception:  # never let one bad round end retention for good
                self.metrics.retention_runs.labels("failed").inc()
                log.exception("retention round failed")

    async def run_once(self) -> RoundResult:
        """One round: attempts, finished deliveries, dead letters, events per source, then
        the revocations of tokens long expired."""
        started = time.perf_counter()
        deleted: Counter[str] = Counter()
        async with retention_session(self.db) as session:
            if session is None:
                self.metrics.retention_runs.labels("skipped").inc()
                log.debug("retention round skipped: another replica is running one")
                return RoundResult(False, {}, time.perf_counter() - started)
            await self._round(session, self.clock(), deleted)
        seconds = time.perf_counter() - started
        self.metrics.retention_runs.labels("completed").inc()
        self.metrics.retention_last_run.set_to_current_time()
        self.metrics.retention_last_duration.set(seconds)
        log_event(
            log,
            logging.INFO,
            "retention round",
            **{f"deleted_{kind}": deleted[kind] for kind in RETENTION_KINDS},
            duration_ms=round(seconds * 1000, 1),
        )
        return RoundResult(True, dict(deleted), seconds)

    async def _round(self, session: RetentionSession, now: datetime, deleted: Counter[str]) -> None:
        cfg = self.config

        def cutoff(days: float) -> datetime | None:
            return now - timedelta(days=days) if days > 0 else None

        if (before := cutoff(cfg.attempts_days)) is not None:
            cursor: Cursor[int] | None = session.attempts_start()
            while cursor is not None:
                batch = await session.delete_attempts(before, cursor, cfg.batch_size)
                self._count(deleted, "attempts", batch.deleted)
                cursor = batch.cursor if batch.scanned == cfg.batch_size else None
        if (before := cutoff(cfg.finished_deliveries_days)) is not None:
            while True:
                n = await session.delete_finished_deliveries(before, cfg.batch_size)
                self._count(deleted, "deliveries", n)
                if n < cfg.batch_size:
                    break
        dead_before = cutoff(cfg.dead_letter_days)
        if dead_before is not None:
            while True:
                n = await session.delete_dead_deliveries(dead_before, cfg.batch_size)
                self._count(deleted, "dead_letters", n)
                if n < cfg.batch_size:
                    break
        for source in await session.event_sources():
            if (before := cutoff(cfg.events_days_for(source))) is None:
                continue
            at: Cursor[str] | None = session.events_start()
            while at is not None:
                events = await session.delete_events(
                    source, before, dead_before, at, cfg.batch_size
                )
                self._count(deleted, "events", events.deleted)
                at = events.cursor if events.scanned == cfg.batch_size else None
        revoked_before = now - timedelta(seconds=kept_seconds(self.token_leeway_seconds))
        while True:
            n = await session.delete_revoked_tokens(revoked_before, cfg.batch_size)
            self._count(deleted, "revoked_tokens", n)
            if n < cfg.batch_size:
                break

    def _count(self, deleted: Counter[str], kind: str, n: int) -> None:
        """Counted per batch, so a long round shows its progress in the metrics."""
        if n:
            deleted[kind] += n
            self.metrics.retention_deleted.labels(kind).inc(n)
