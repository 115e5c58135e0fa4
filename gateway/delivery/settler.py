"""Batches the results of attempts into one transaction every few milliseconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.store import StoreError
from gateway.store.database import Database
from gateway.store.records import Settlement, SettleReport
from gateway.store.settle import Evolve, settle

__all__ = ["Settler"]

log = logging.getLogger("gateway.delivery")


class Settler:
    """Collects settlements and writes them in batches (attempts, states, circuits).

    A batch is written as soon as the previous one is done: the subscribers' in-flight
    slots come back only when their settlement commits, so every millisecond waited
    here is a millisecond a busy subscriber cannot be sent to. Batches still form while
    a write is under way.

    If the database is away the batch is kept and retried; should the process die
    first, the leases expire and the deliveries are tried again (at least once).
    """

    def __init__(
        self,
        db: Database,
        evolve: Evolve,
        *,
        on_settled: Callable[[SettleReport], None] = lambda _: None,
        on_written: Callable[[int, float], None] = lambda _, __: None,
        on_recorded: Callable[[list[Settlement]], None] | None = None,
        batch_max: int = 256,
        wait_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.evolve = evolve
        self.on_settled = on_settled
        self.on_written = on_written  # (attempts in the batch, seconds its transaction took)
        self.on_recorded = on_recorded  # the settlements of each batch written
        self.batch_max = batch_max
        self.wait_seconds = wait_seconds
        self._pending: list[Settlement] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="settler")

    def add(self, settlement: Settlement) -> None:
        self._pending.append(settlement)
        self._ready.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is left (within ``timeout``) and stop."""
        self._closing = True
        self._ready.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("settler could not write %d results", len(self._pending))

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._ready.wait()
            if self.wait_seconds > 0 and not self._closing and len(self._pending) < self.batch_max:
                await asyncio.sleep(self.wait_seconds)
            else:
                await asyncio.sleep(0)  # let results that are ready join this batch
            batch = self._pending[: self.batch_max]
            if not batch:
                self._ready.clear()
                if self._closing:
                    return
                continue
            started = time.perf_counter()
            try:
                report = await settle(self.db, batch, self.evolve)
            except StoreError as exc:
                log.warning("could not record %d attempts: %s", len(batch), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            self.on_written(len(batch), time.perf_counter() - started)
            if self.on_recorded is not None:
                self.on_recorded(batch)
            del self._pending[: len(batch)]
            self.on_settled(report)
            if not self._pending and not self._closing:
                self._ready.clear()
