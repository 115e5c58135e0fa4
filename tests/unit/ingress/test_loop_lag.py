"""The loop-lag monitor says the process is overloaded while its loop runs late, and
stops saying so once the loop keeps time again."""

from __future__ import annotations

import asyncio
import functools
import time

from prometheus_client import CollectorRegistry, Histogram

from gateway.ingress.looplag import LoopLag
from testkit.polling import until

_until = functools.partial(until, timeout=5.0, every=0.01)


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


async def test_every_reading_of_the_lag_is_observed_in_its_histogram() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("lag_seconds", "lag", buckets=(0.1, 1), registry=registry)
    lag = LoopLag(threshold=10, interval=0.01, histogram=histogram)
    lag.start()
    try:
        await _until(lambda: (registry.get_sample_value("lag_seconds_count") or 0) >= 3)
        time.sleep(0.3)  # one reading at least 0.3 s late
        await _until(
            lambda: (
                (registry.get_sample_value("lag_seconds_bucket", {"le": "1.0"}) or 0)
                > (registry.get_sample_value("lag_seconds_bucket", {"le": "0.1"}) or 0)
            )
        )
    finally:
        await lag.stop()
    assert (registry.get_sample_value("lag_seconds_sum") or 0) >= 0.25
