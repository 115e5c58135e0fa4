"""A source's refused signatures spiking, and recovering, as operational events.

Each ingress counts the signatures it refuses per source in memory and, every bucket
(a tenth of the window, at least a second), adds its counts to the database's and reads
every replica's sum over the window. A source whose sum reaches
``operational_events.signature_failures_threshold`` starts an episode
(``source.signature_failures_spiking``); it ends (``source.signature_failures_recovered``)
when the sum falls below half the threshold. The episode's state is shared
(``operational_states``): whichever replicas see a change, one of them tells of it.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from gateway.config import OperationalEventsConfig
from gateway.domain.operational import Emit, Kind, OperationalEvent, crossings
from gateway.lifecycle.tasks import cancel_and_wait
from gateway.store import StoreError
from gateway.store import operational as store
from gateway.store.database import Database

__all__ = ["CONDITION", "SignatureSpikes"]

log = logging.getLogger("gateway.operational")

CONDITION = "source.signature_failures"
"""The name of the shared condition (``operational_states.kind``)."""


class SignatureSpikes:
    """One per ingress process: :meth:`failed` counts, a timer calls :meth:`check`."""

    def __init__(self, db: Database, config: OperationalEventsConfig, emit: Emit) -> None:
        self.db = db
        self.threshold = config.signature_failures_threshold
        self.window = config.signature_failures_window_seconds
        self.bucket = max(1.0, self.window / 10)
        self.emit = emit
        self._counts: collections.Counter[str] = collections.Counter()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def failed(self, source: str) -> None:
        """A request of ``source`` (a known source's name) had a signature refused."""
        self._counts[source] += 1

    async def check(self) -> None:
        """Add this replica's counts, read everyone's, and tell of the episodes that start
        or end."""
        counts, self._counts = self._counts, collections.Counter()
        try:
            if counts:
                await store.add_signature_failures(
                    self.db, counts, self.bucket, self.window + self.bucket
                )
        except StoreError:
            self._counts.update(counts)  # added next time
            raise
        sums = await store.signature_failures(self.db, self.window)
        active = await store.active_conditions(self.db, CONDITION)
        starts, ends = crossings(sums, active, self.threshold)
        for source, spiking, since in await store.change_conditions(
            self.db, CONDITION, starts, ends
        ):
            data = {
                "source": source,
                "failures": sums.get(source, 0),
                "window_seconds": self.window,
                "threshold": self.threshold,
            }
            kind: Kind = (
                "source.signature_failures_spiking"
                if spiking
                else "source.signature_failures_recovered"
            )
            self.emit(OperationalEvent(kind, source, since, data))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="signature-spikes")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.bucket)
            try:
                await self.check()
            except StoreError as exc:
                if not self._failing:  # once per outage
                    log.warning("signature failures not counted: %s", exc)
                self._failing = True
            except Exception:  # keep the timer alive; say what went wrong
                log.exception("signature failures not counted")
                self._failing = True
            else:
                self._failing = False
