"""The loop-lag monitor says the process is overloaded while its loop runs late, and
stops saying so once the loop keeps time again."""

from __future__ import annotations

import asyncio
import time

from gateway.ingress.looplag import LoopLag


async def _until(condition: object, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_blocked_loop_counts_as_overloaded_until_it_catches_up() -> None:
    lag = LoopLag(threshold=0.1, interval=0.02)
    lag.start()
    try:
        await asyncio.sleep(0.05)
        assert not lag.overloaded
        time.sleep(0.3)  # the loop is held: every timer fires late
        await _until(lambda: lag.overloaded)
        assert lag.lag > 0.1
        await _until(lambda: not lag.overloaded)
    finally:
        await lag.stop()


async def test_a_zero_threshold_never_sheds() -> None:
    lag = LoopLag(threshold=0)
    lag.start()
    time.sleep(0.2)
    await asyncio.sleep(0.05)
    assert not lag.overloaded
    await lag.stop()
