"""Services started in order on one stack, and stopped in reverse whatever happens.

A process starts pools, tasks and listeners one after another. Each one started goes on
an :class:`contextlib.AsyncExitStack`, so it stops before everything started before it:
at shutdown, and as well when something later fails to start, which then leaves nothing
running and nothing open behind it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, Self, TypeVar

__all__ = ["Hooks", "Service", "Services", "StartupError"]

log = logging.getLogger("gateway.lifecycle")

T = TypeVar("T")


class Service(Protocol):
    """Something that runs from :meth:`start` until :meth:`stop`."""

    async def start(self) -> None:
        """Start; on failure leave nothing running (``stop`` is not called then)."""

    async def stop(self) -> None:
        """Stop, releasing what ``start`` took."""


class Hooks:
    """A :class:`Service` from an object's own start and stop (``start`` may be plain)."""

    __slots__ = ("_start", "_stop")

    def __init__(
        self, start: Callable[[], Awaitable[None] | None], stop: Callable[[], Awaitable[None]]
    ) -> None:
        self._start = start
        self._stop = stop

    async def start(self) -> None:
        started = self._start()
        if started is not None:
            await started

    async def stop(self) -> None:
        await self._stop()


class StartupError(Exception):
    """A service could not start; the message is the one line to show (it names the
    service), and everything started before it has been stopped."""


class Services:
    """An ``async with`` block that services are started in; leaving it stops them, the
    last started first.

    ``expected``: the failures a service may meet starting (the database refusing, an
    address or file the system refuses). Those end start-up as a :class:`StartupError`
    naming the service; any other exception is a defect and propagates as it is. Either
    way, the services started so far are stopped first.
    """

    def __init__(self, expected: tuple[type[Exception], ...] = ()) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._expected = expected

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return await self._stack.__aexit__(kind, exc, traceback)

    async def start(self, name: str, service: Service) -> None:
        """Start ``service``; it stops before every service started earlier."""
        with self.step(name):
            await service.start()
        self._stack.push_async_callback(service.stop)
        self._started(name)

    async def enter(self, name: str, context: AbstractAsyncContextManager[T]) -> T:
        """Enter ``context`` (a service written as an async context manager) and return
        what it gives; it is exited before every service started earlier."""
        with self.step(name):
            value = await self._stack.enter_async_context(context)
        self._started(name)
        return value

    async def place(self) -> Services:
        """Services started on the one returned, later, stop here in this stack's order
        (a listener that can only start once what it reports on exists, yet stops last)."""
        return await self._stack.enter_async_context(Services(self._expected))

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A start-up step named ``name``: an expected failure in it is a
        :class:`StartupError` (for steps that leave nothing to stop, too)."""
        try:
            yield
        except StartupError:
            raise
        except self._expected as exc:
            raise StartupError(f"{name}: {_reason(exc)}") from exc

    def _started(self, name: str) -> None:
        log.debug("started %s", name)
        self._stack.callback(log.debug, "stopping %s", name)


def _reason(exc: BaseException) -> str:
    """One line: the error's own words, and its cause's when they add something (the
    database's "too many connections for role ..." behind "database unavailable")."""
    reason = " ".join((str(exc) or type(exc).__name__).split())
    cause = " ".join(str(exc.__cause__ or "").split())
    return f"{reason} ({cause})" if cause and cause not in reason else reason
