"""Housekeeping every dispatcher does now and then, safe to run on every replica at once.

- leases that ran out (a crashed worker) go back to pending;
- keys whose head is queued with nothing to promote it get it promoted (a safety net);
- ordering keys with nothing unfinished are forgotten;
- the circuit and disabled gauges are read from the database, so every replica shows
  every subscriber's state, not only what it saw itself.
"""

from __future__ import annotations

import logging
import time

from gateway.config import DeliveryConfig
from gateway.observability import Metrics, log_event
from gateway.store import StoreError, claim, flow, ordering
from gateway.store.database import Database

__all__ = ["Upkeep"]

log = logging.getLogger("gateway.delivery")


class Upkeep:
    def __init__(self, db: Database, config: DeliveryConfig, metrics: Metrics) -> None:
        self.db = db
        self.metrics = metrics
        self.interval = max(1.0, min(config.lease_seconds / 4, 15.0))
        self._last = 0.0
        self._names: set[str] = set()

    async def run_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        try:
            await self.run()
        except StoreError as exc:
            log.warning("delivery upkeep failed: %s", exc)

    async def run(self) -> None:
        released = await claim.release_expired_leases(self.db)
        if released:
            self.metrics.leases_expired.inc(released)
            log_event(log, logging.WARNING, "expired leases released", count=released)
        promoted = await ordering.rescue_stranded(self.db)
        if promoted:
            log_event(log, logging.WARNING, "stranded ordered deliveries promoted", count=promoted)
        await ordering.forget_idle(self.db)
        await self.refresh_gauges()

    async def refresh_gauges(self) -> None:
        states = await flow.circuit_states(self.db)
        names = set()
        for _, name, state, circuit in states:
            self.metrics.circuit_open.labels(name).set(0 if circuit == "closed" else 1)
            self.metrics.subscriber_disabled.labels(name).set(1 if state == "disabled" else 0)
            names.add(name)
        for gone in self._names - names:  # deleted subscribers leave no series behind
            self.metrics.circuit_open.remove(gone)
            self.metrics.subscriber_disabled.remove(gone)
        self._names = names
