"""How late the event loop runs: the sign that the process has more work than CPU.

When the CPU (not the database) is what runs out, requests wait where the writer cannot
see them: in socket buffers and in the loop's queue of ready callbacks. A timer that
should fire every ``interval`` seconds fires late by as much as a request waits, so
while that lag is above the threshold the ingress answers 503 with Retry-After at once
instead of letting senders time out. Only the answer is cheap: nothing is stored.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

from gateway.lifecycle.tasks import cancel_and_wait

__all__ = ["LoopLag"]


class LoopLag:
    def __init__(
        self, threshold: float, interval: float = 0.05, histogram: Histogram | None = None
    ) -> None:
        self.threshold = threshold
        self.interval = interval
        self.histogram = histogram  # every reading, for /metrics
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def overloaded(self) -> bool:
        return self.threshold > 0 and self.lag > self.threshold

    def start(self) -> None:
        if self.threshold > 0:
            self._task = asyncio.create_task(self._measure(), name="loop-lag")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        self.lag = 0.0

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lag = max(0.0, loop.time() - due)
            if self.histogram is not None:
                self.histogram.observe(self.lag)
