"""Group commit: one writer task stores the events of many requests per transaction.

Each request waits for the commit of the batch that holds its event, so an answer of
2xx always follows a COMMIT. The waiting list is bounded, in length and in age: when it
is full, or its oldest event has waited longer than ``shed_after_ms``, the caller is
told at once (503) instead of memory and latency growing without limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from gateway.config import WriterConfig
from gateway.domain.filters.judge import Judge
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import Metrics
from gateway.observability.tracing import OpenSpan, Tracing
from gateway.store import StoreError, StoreUnavailable
from gateway.store.database import Database
from gateway.store.events import insert_batch, notify_deliveries
from gateway.store.filters import filters_in_force
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["GroupCommitWriter", "WriterClosed", "WriterOverloaded", "WriterTimedOut"]

log = logging.getLogger("gateway.writer")

# The longest a few events wait for a commit under way before taking a slot of their
# own: a commit held up (a lock wait, a stalled disk) does not hold the next batch.
GATHER_LIMIT = 0.02
# After the content filters could not be read, the least time before the next try
# (meanwhile PostgreSQL judges the events the ingress cannot).
FILTERS_RETRY_AFTER = 1.0


class _Item(NamedTuple):
    event: IngestEvent
    answer: asyncio.Future[IngestResult]
    queued_at: float  # time.monotonic()
    span: OpenSpan | None  # a traced event's ingest span, which its commit is a child of


class WriterOverloaded(Exception):
    """Too many events are waiting to be written; try again shortly."""


class WriterClosed(Exception):
    """The gateway is shutting down and takes no more events."""


class WriterTimedOut(Exception):
    """The event was not committed within the ack timeout; it may still be (a retry is
    then answered as a duplicate), or, if it never left the queue, it never will be."""


class GroupCommitWriter:
    """Batches waiting events; up to ``max_in_flight`` batches commit at once.

    Each of ``max_in_flight`` lanes (a task, with a connection of the writer's pool
    while it commits) takes the events waiting, commits them, and takes the next ones
    as soon as its commit returns: while one batch waits for its WAL flush, the next is
    written on another connection, and PostgreSQL flushes their commits together. A lane
    that goes on by itself saves the turns of the event loop a hand-over to another task
    would cost, and on a busy loop each turn is milliseconds.

    Each batch goes with the verdicts of the content filters the writer has compiled (a
    :class:`Judge`); when the fan-out finds them outdated (a subscriber was created or
    changed, here or through another replica), the writer reads them again. Until then
    PostgreSQL judges by the filters in force whatever the verdicts cannot tell.
    """

    def __init__(
        self,
        db: Database,
        config: WriterConfig,
        metrics: Metrics,
        on_commit: Callable[[], None] = lambda: None,
        *,
        ack_timeout: float | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.metrics = metrics
        self.on_commit = on_commit
        self.ack_timeout = ack_timeout
        self.tracing = tracing
        self._waiting: collections.deque[_Item] = collections.deque()
        self._ready = asyncio.Event()  # events wait (for the lanes that have none)
        self._committing: dict[int, list[_Item]] = {}  # by lane: the batch it commits
        self._progress = asyncio.Event()  # a commit ended, or enough events wait
        self._spread_at = max(1, config.spread_at)
        self._reaper: asyncio.Task[None] | None = None
        self._notify = asyncio.Event()
        self._notifier: asyncio.Task[None] | None = None
        self._shed_after = config.shed_after_ms / 1000
        self._closing = False
        self._lanes: list[asyncio.Task[None]] = []
        self._judge = Judge()
        self._reading_filters: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return bool(self._lanes) and not any(lane.done() for lane in self._lanes)

    @property
    def overloaded(self) -> bool:
        """Whether a new event would be refused now (the queue is full or too slow)."""
        waiting = self._waiting
        if not waiting:
            return False
        if len(waiting) >= self.config.queue_size:
            return True
        return self._shed_after > 0 and time.monotonic() - waiting[0].queued_at > self._shed_after

    def start(self) -> None:
        self._lanes = [
            asyncio.create_task(self._lane(n), name=f"group-commit-lane-{n}")
            for n in range(max(1, self.config.max_in_flight))
        ]
        self._notifier = asyncio.create_task(self._notify_loop(), name="deliveries-notifier")
        if self.ack_timeout is not None:
            self._reaper = asyncio.create_task(self._reap(self.ack_timeout), name="ack-timeouts")

    def submit(
        self, event: IngestEvent, span: OpenSpan | None = None
    ) -> asyncio.Future[IngestResult]:
        """Queue ``event`` (traced: ``span`` is its ingest span); the future resolves
        after its batch commits."""
        if self._closing:
            raise WriterClosed
        if self.overloaded:
            raise WriterOverloaded
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._waiting.append(_Item(event, future, time.monotonic(), span))
        self.metrics.writer_queue_depth.set(len(self._waiting))
        self._ready.set()
        if len(self._waiting) >= self._spread_at:
            self._progress.set()
        return future

    async def close(self) -> None:
        """Take no more events; write every event already queued, then stop."""
        self._closing = True
        self._ready.set()
        self._progress.set()
        if self._lanes:
            await asyncio.gather(*self._lanes)
        if self._notify.is_set():
            await self._send_notify()
        await cancel_and_wait(self._reaper, self._notifier, self._reading_filters)

    async def _lane(self, lane: int) -> None:
        """Take the waiting events and commit them, until closed with none left."""
        wait = self.config.batch_wait_ms / 1000
        waiting = self._waiting
        while True:
            if not waiting:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            if wait > 0 and len(waiting) < self.config.batch_max and not self._closing:
                await asyncio.sleep(wait)
            await self._gather_behind_commits()
            if not waiting:  # another lane took them meanwhile
                continue
            count = min(len(waiting), self.config.batch_max)
            batch = [waiting.popleft() for _ in range(count)]
            self.metrics.writer_queue_depth.set(len(waiting))
            self.metrics.writer_wait_seconds.observe(time.monotonic() - batch[0].queued_at)
            self._committing[lane] = batch
            try:
                await self._commit(batch)
            finally:
                del self._committing[lane]
                self._progress.set()

    async def _gather_behind_commits(self) -> None:
        """While a batch commits and fewer than ``spread_at`` events wait, they wait for
        its end (at most ``GATHER_LIMIT``) and go together. One statement for several
        events costs PostgreSQL far less than one each, and their commits would queue
        behind its WAL flush anyway; more batches commit side by side only when the
        waiting line is long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATHER_LIMIT
        while self._committing and len(self._waiting) < self._spread_at and not self._closing:
            left = deadline - loop.time()
            if left <= 0:
                return
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)

    async def _notify_loop(self) -> None:
        """One NOTIFY for every burst of commits that created deliveries.

        Sent on its own, never inside a batch: PostgreSQL serialises the commits of
        notifying transactions, which would undo committing batches side by side.
        Commits that land while a NOTIFY is under way are covered by the next one.
        """
        while True:
            await self._notify.wait()
            await self._send_notify()

    async def _send_notify(self) -> None:
        self._notify.clear()
        try:
            await notify_deliveries(self.db)
        except StoreError as exc:  # the dispatchers poll as well; they are only later
            log.debug("could not notify the dispatchers: %s", exc)

    async def _reap(self, timeout: float) -> None:
        """Answer, every tick, the events that have waited longer than ``timeout``.

        One timer for all requests instead of one each: a request's answer comes at most
        a tick after its deadline.
        """
        tick = min(0.1, timeout / 4)
        while True:
            await asyncio.sleep(tick)
            self._expire(time.monotonic() - timeout)

    def _expire(self, cutoff: float) -> None:
        waiting = self._waiting
        while waiting and waiting[0].queued_at < cutoff:  # never sent: never stored
            answer = waiting.popleft().answer
            if not answer.done():
                answer.set_exception(WriterTimedOut())
        self.metrics.writer_queue_depth.set(len(waiting))
        for batch in self._committing.values():  # oldest first within a batch
            if batch[0].queued_at < cutoff:
                _fail(batch, WriterTimedOut())

    async def _commit(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            judge = self._judge
            results, deliveries = await insert_batch(self.db, [item.event for item in batch], judge)
        except StoreUnavailable as exc:
            _fail(batch, exc)
            return
        except StoreError as exc:
            if len(batch) == 1:
                log.error("event %s refused by the database: %s", batch[0].event.id, exc)
                _fail(batch, exc)
                return
            for item in batch:  # find the one bad event; the others still go in
                await self._commit([item])
            return
        except Exception as exc:  # the writer must outlive any one batch, or ingest stops
            log.exception("storing %d events failed unexpectedly", len(batch))
            _fail(batch, StoreUnavailable(f"unexpected error: {type(exc).__name__}"))
            return
        if judge.outdated:
            self._read_filters()
        self.metrics.writer_batch_size.observe(len(batch))
        self.metrics.writer_commit_seconds.observe(time.perf_counter() - started)
        if self.tracing is not None:
            _trace_commit(self.tracing, batch, started)
        for item, result in zip(batch, results, strict=True):
            if not item.answer.done():
                item.answer.set_result(result)
        if deliveries:
            self.on_commit()
            self._notify.set()

    def _read_filters(self) -> None:
        """Read the content filters in force again, unless a reading is under way."""
        if self._reading_filters is None or self._reading_filters.done():
            self._reading_filters = asyncio.create_task(
                self._read_filters_now(), name="content-filters"
            )

    async def _read_filters_now(self) -> None:
        try:
            self._judge = Judge(await filters_in_force(self.db))
        except Exception as exc:  # meanwhile PostgreSQL decides what the verdicts cannot
            log.warning("could not read the content filters: %s", exc)
            await asyncio.sleep(FILTERS_RETRY_AFTER)


def _trace_commit(tracing: Tracing, batch: list[_Item], started: float) -> None:
    """The commit, as a child of each traced event's ingest span (from ``started``, a
    ``perf_counter`` time, until now)."""
    spans = [item.span for item in batch if item.span is not None]
    if spans:
        end = time.time_ns()
        tracing.commits(spans, end - int((time.perf_counter() - started) * 1e9), end, len(batch))


def _fail(batch: list[_Item], exc: BaseException) -> None:
    for item in batch:
        if not item.answer.done():
            item.answer.set_exception(exc)


def _consume(future: asyncio.Future[IngestResult]) -> None:
    """Mark the outcome as seen: a caller that gave up waiting must not cause noise."""
    if not future.cancelled():
        future.exception()
