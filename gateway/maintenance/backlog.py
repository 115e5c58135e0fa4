"""Backlog and subscriber-state gauges, read from the database on a timer.

Not per scrape: a scrape answers from memory, so neither Prometheus nor a dashboard left
open can load the database. Every replica runs its own timer and exports the whole
backlog (it is a property of the database, not of the process): aggregate with ``max``.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.domain.operational import Emit, Kind, OperationalEvent, crossings, drop
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.observability import Metrics, log_event
from gateway.store import StoreError
from gateway.store.database import Database
from gateway.store.maintenance import BacklogCount, backlog
from gateway.store.operational import active_conditions, change_conditions

__all__ = ["CONDITION", "BacklogMonitor"]

CONDITION = "backlog"
"""The name of the shared condition (``operational_states.kind``)."""
_WAITING = frozenset({"pending", "queued"})

log = logging.getLogger("gateway.metrics")


class BacklogMonitor:
    """Refreshes ``gateway_deliveries_backlog`` and ``gateway_subscriber_disabled``; with
    a ``threshold``, tells of each subscriber's backlog growing past it
    (``backlog.growing``) and falling below half of it again (``backlog.recovered``): the
    episode's state is shared, so one replica tells of each change."""

    def __init__(
        self,
        db: Database,
        metrics: Metrics,
        interval_seconds: float,
        *,
        emit: Emit = drop,
        threshold: int | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.interval_seconds = interval_seconds
        self.emit = emit
        self.threshold = threshold
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def refresh(self) -> None:
        """Read the backlog once and replace the gauges."""
        rows = await backlog(self.db)
        self.metrics.set_backlog(
            ((r.subscriber, r.status, r.count) for r in rows),
            {r.subscriber: r.state == "disabled" for r in rows}.items(),
        )
        if self.threshold is not None:
            await self._tell(rows, self.threshold)

    async def _tell(self, rows: list[BacklogCount], threshold: int) -> None:
        waiting: dict[str, int] = {}
        names: dict[str, str] = {}
        for r in rows:
            if r.state != "disabled" and r.status in _WAITING:
                waiting[r.subscriber_id] = waiting.get(r.subscriber_id, 0) + r.count
                names[r.subscriber_id] = r.subscriber
        active = await active_conditions(self.db, CONDITION)
        starts, ends = crossings(waiting, active, threshold)
        for subscriber_id, growing, since in await change_conditions(
            self.db, CONDITION, starts, ends
        ):
            data = {
                "subscriber": {"id": subscriber_id, "name": names.get(subscriber_id)},
                "backlog": waiting.get(subscriber_id, 0),
                "threshold": threshold,
            }
            kind: Kind = "backlog.growing" if growing else "backlog.recovered"
            self.emit(OperationalEvent(kind, subscriber_id, since, data))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="backlog-gauges")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreError as exc:
                if not self._failing:  # once per outage, not every interval
                    log_event(log, logging.WARNING, "backlog gauges not refreshed", error=str(exc))
                self._failing = True
            except Exception:  # keep the timer alive; say what went wrong
                log.exception("backlog gauges not refreshed")
                self._failing = True
            else:
                if self._failing:
                    log.info("backlog gauges refreshed again")
                self._failing = False
            await asyncio.sleep(self.interval_seconds)
