"""Wait for a condition, bounded in time: the one polling loop of tests, bench and chaos."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 20.0,
    every: float = 0.05,
    *,
    what: str = "",
) -> T:
    """Call ``predicate`` (plain or async) every ``every`` seconds until it returns something
    truthy, and return that; raise :class:`TimeoutError` after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout) as deadline:
            while True:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result  # type: ignore[return-value]
                await asyncio.sleep(every)
    except TimeoutError:
        if not deadline.expired():
            raise  # the predicate's own
        raise TimeoutError(f"waited {timeout:g} s for {what or _name(predicate)}") from None


async def became(
    predicate: Callable[[], object | Awaitable[object]], timeout: float, every: float = 0.05
) -> bool:
    """Whether ``predicate`` became truthy within ``timeout`` seconds (never raises for time)."""
    try:
        await until(predicate, timeout, every)
    except TimeoutError:
        return False
    return True


def until_sync(
    predicate: Callable[[], T], timeout: float = 20.0, every: float = 0.05, *, what: str = ""
) -> T:
    """:func:`until` for code without an event loop: blocks the thread while it waits."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what or _name(predicate)}")
        time.sleep(every)
    return result


def _name(predicate: Callable[..., object]) -> str:
    return getattr(predicate, "__qualname__", repr(predicate))
