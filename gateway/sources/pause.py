"""What every reader shares: waiting before it tries its broker again, a wait that
stopping cuts short, and how a broker's error is said."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["FIRST_PAUSE_SECONDS", "LONGEST_PAUSE_SECONDS", "Backoff", "Pause", "describe"]

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
_MAX_ERROR = 300


class Backoff:
    """Pauses after failures in a row: doubling, up to :data:`LONGEST_PAUSE_SECONDS`."""

    def __init__(self) -> None:
        self._next = FIRST_PAUSE_SECONDS

    def succeeded(self) -> None:
        self._next = FIRST_PAUSE_SECONDS

    def next(self) -> float:
        """The pause after one more failure."""
        seconds = self._next
        self._next = min(seconds * 2, LONGEST_PAUSE_SECONDS)
        return seconds


class Pause:
    """A reader's stop signal, which ends any of its pauses at once, and its pauses after
    failures (:attr:`backoff`, or a loop's own)."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self.backoff = Backoff()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def succeeded(self) -> None:
        self.backoff.succeeded()

    async def after_failure(self, backoff: Backoff | None = None) -> None:
        """Wait before the next try: longer after each failure in a row."""
        await self.wait((backoff or self.backoff).next())

    async def until_stopped(self) -> None:
        await self._stop.wait()

    async def wait(self, seconds: float) -> None:
        """Wait ``seconds``, or until stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def describe(exc: BaseException) -> str:
    """One line for ``exc``: its type and its words, bounded."""
    words = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {words}"[:_MAX_ERROR]
