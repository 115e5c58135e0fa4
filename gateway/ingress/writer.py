"""Group commit: one writer task stores the events of many requests per transaction.

Each request waits for the commit of the batch that holds its event, so an answer of
2xx always follows a COMMIT. The waiting list is bounded: when it is full the caller is
told at once (503) instead of memory growing without limit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

from gateway.config import WriterConfig
from gateway.observability import Metrics
from gateway.store import StoreError, StoreUnavailable
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["GroupCommitWriter", "WriterClosed", "WriterOverloaded"]

log = logging.getLogger("gateway.writer")
_Item = tuple[IngestEvent, "asyncio.Future[IngestResult]"]


class WriterOverloaded(Exception):
    """Too many events are waiting to be written; try again shortly."""


class WriterClosed(Exception):
    """The gateway is shutting down and takes no more events."""


class GroupCommitWriter:
    def __init__(
        self,
        db: Database,
        config: WriterConfig,
        metrics: Metrics,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.config = config
        self.metrics = metrics
        self.on_commit = on_commit
        self._waiting: collections.deque[_Item] = collections.deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    def submit(self, event: IngestEvent) -> asyncio.Future[IngestResult]:
        """Queue ``event``; the future resolves after its batch commits."""
        if self._closing:
            raise WriterClosed
        if len(self._waiting) >= self.config.queue_size:
            raise WriterOverloaded
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._waiting.append((event, future))
        self.metrics.writer_queue_depth.set(len(self._waiting))
        self._ready.set()
        return future

    async def close(self) -> None:
        """Take no more events; write every event already queued, then stop."""
        self._closing = True
        self._ready.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        wait = self.config.batch_wait_ms / 1000
        while True:
            await self._ready.wait()
            if not self._waiting:
                self._ready.clear()
                if self._closing:
                    return
                continue
            if wait > 0 and len(self._waiting) < self.config.batch_max and not self._closing:
                await asyncio.sleep(wait)
            count = min(len(self._waiting), self.config.batch_max)
            batch = [self._waiting.popleft() for _ in range(count)]
            self.metrics.writer_queue_depth.set(len(self._waiting))
            await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            results, deliveries = await insert_batch(self.db, [event for event, _ in batch])
        except StoreUnavailable as exc:
            _fail(batch, exc)
            return
        except StoreError as exc:
            if len(batch) == 1:
                log.error("event %s refused by the database: %s", batch[0][0].id, exc)
                _fail(batch, exc)
                return
            for item in batch:  # find the one bad event; the others still go in
                await self._commit([item])
            return
        except Exception as exc:  # the writer must outlive any one batch, or ingest stops
            log.exception("storing %d events failed unexpectedly", len(batch))
            _fail(batch, StoreUnavailable(f"unexpected error: {type(exc).__name__}"))
            return
        self.metrics.writer_batch_size.observe(len(batch))
        self.metrics.writer_commit_seconds.observe(time.perf_counter() - started)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        if deliveries:
            self.on_commit()


def _fail(batch: list[_Item], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


def _consume(future: asyncio.Future[IngestResult]) -> None:
    """Mark the outcome as seen: a caller that gave up waiting must not cause noise."""
    if not future.cancelled():
        future.exception()
