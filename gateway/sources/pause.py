"""What every reader shares: waiting before it tries its broker again, a wait that
stopping cuts short, and how a broker's error is said."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["FIRST_PAUSE_SECONDS", "LONGEST_PAUSE_SECONDS", "Pause", "describe"]

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
_MAX_ERROR = 300


class Pause:
    """A reader's pauses after failures (doubling, up to :data:`LONGEST_PAUSE_SECONDS`)
    and its stop signal, which ends any pause at once."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._next = FIRST_PAUSE_SECONDS

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def succeeded(self) -> None:
        self._next = FIRST_PAUSE_SECONDS

    async def after_failure(self) -> None:
        """Wait before the next try: longer after each failure in a row."""
        await self.wait(self._next)
        self._next = min(self._next * 2, LONGEST_PAUSE_SECONDS)

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
