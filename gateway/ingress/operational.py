"""The gateway's events about itself (gateway/domain/operational.py), stored as events of
the source ``gateway`` by the writer's own statement (``store.events.insert_batch``: the
same dedup and fan-out), then delivered like any event.

:meth:`OperationalEvents.emit` only queues: the path that noticed a change (a settlement,
a monitor) never waits for its report nor fails with it. The queue is bounded; an event
that finds it full is dropped, and one the database refuses or cannot take is tried a few
times and then dropped; both are logged and counted
(``gateway_operational_events{outcome}``). Not the ingress's writer, which a worker does
not run: these events are few, stored a batch at a time by one task per process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

from gateway.config import OperationalEventsConfig
from gateway.domain.ids import new_id
from gateway.domain.operational import GATEWAY_SOURCE, OperationalEvent, body_of
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import Metrics, log_event
from gateway.store import StoreError
from gateway.store.database import Database
from gateway.store.events import insert_batch, notify_deliveries
from gateway.store.records import IngestEvent

__all__ = ["OperationalEvents"]

log = logging.getLogger("gateway.operational")

BATCH_MAX = 100
TRIES = 5  # a batch the database cannot take now is tried this often, then dropped
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)
STOP_SECONDS = 5.0  # what is queued at shutdown has this long to be stored


class OperationalEvents:
    """One per process: a bounded queue of events and the task that stores them."""

    def __init__(self, db: Database, config: OperationalEventsConfig, metrics: Metrics) -> None:
        self.db = db
        self.config = config
        self.metrics = metrics
        self._queue: collections.deque[OperationalEvent] = collections.deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def emit(self, event: OperationalEvent) -> None:
        """Queue ``event`` to be stored (see the module's docstring); never raises."""
        if not self.config.enabled or self._closing:
            return
        if len(self._queue) >= self.config.queue_size:
            self._count(event, "dropped")
            log_event(log, logging.WARNING, "operational event dropped: queue full", key=event.key)
            return
        self._queue.append(event)
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="operational-events")

    async def stop(self) -> None:
        """Store what is queued (within ``STOP_SECONDS``), then stop."""
        self._closing = True
        self._ready.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
        except TimeoutError:
            log.warning("%d operational events not stored at shutdown", len(self._queue))
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(BATCH_MAX, len(self._queue)))]
            await self._store(batch)

    async def _store(self, batch: list[OperationalEvent]) -> None:
        events = [self._ingest_event(e) for e in batch]
        for attempt in range(TRIES):
            try:
                results, deliveries = await insert_batch(self.db, events)
            except StoreError as exc:
                if attempt + 1 < TRIES and not self._closing:
                    await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                    continue
                self._failed(batch, str(exc))
                return
            except Exception as exc:  # the task must outlive any one batch
                log.exception("storing operational events failed unexpectedly")
                self._failed(batch, type(exc).__name__)
                return
            break
        for event, result in zip(batch, results, strict=True):
            self._count(event, "duplicate" if result.duplicate else "stored")
        if deliveries:
            with contextlib.suppress(StoreError):  # the dispatchers poll as well
                await notify_deliveries(self.db)

    def _ingest_event(self, event: OperationalEvent) -> IngestEvent:
        return IngestEvent(
            id=new_id("evt"),
            source=GATEWAY_SOURCE,
            external_id=event.key,
            event_type=event.kind,
            ordering_key=None,
            content_type="application/json",
            headers_json="{}",
            body=body_of(event, self.config.console_url),
        )

    def _failed(self, batch: list[OperationalEvent], why: str) -> None:
        for event in batch:
            self._count(event, "failed")
        log.error("%d operational events not stored: %s", len(batch), why)

    def _count(self, event: OperationalEvent, outcome: str) -> None:
        self.metrics.operational_events.labels(event.kind, outcome).inc()
