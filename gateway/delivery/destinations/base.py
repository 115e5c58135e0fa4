"""What every sender is: the claimed delivery and its request in, the attempt out."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from gateway.delivery.request import Outbound
from gateway.store.records import AttemptResult, ClaimedDelivery

__all__ = ["Sender", "Stopwatch"]


class Sender(Protocol):
    """Sends deliveries of one kind (to HTTP URLs, or into one broker)."""

    async def send(
        self, claimed: ClaimedDelivery, outbound: Outbound, timeout: float
    ) -> AttemptResult:
        """Send ``outbound`` (body and headers as ``build_request`` made them: signature,
        filters, transform and thin payloads already applied) within ``timeout`` seconds.
        Never raises for what the destination or the network did: the result says it."""
        ...

    async def close(self) -> None:
        """Close connections; the dispatcher has stopped sending."""
        ...


class Stopwatch:
    """When an attempt started, and its result once it ends."""

    __slots__ = ("_t0", "started_at")

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self._t0 = time.perf_counter()

    def result(self, outcome: str, error: str | None = None) -> AttemptResult:
        ms = (time.perf_counter() - self._t0) * 1000
        return AttemptResult(self.started_at, ms, outcome, error=error)
