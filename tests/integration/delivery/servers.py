"""Real subscriber servers on loopback, each answering the way a test needs."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Behaviour = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class Arrival:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Subscriber:
    """An HTTP server that records every request and answers with ``behaviour``.

    ``behaviour(request, n)`` gets the request and its 1-based number. The server also
    counts how many requests it is handling at once (``max_concurrent``) and, for
    streamed answers, how many bytes it managed to write (``bytes_written``).
    """

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or answer(200)
        self.arrivals: list[Arrival] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.bytes_written = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Subscriber:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with self._changed:
            self.arrivals.append(
                Arrival(time.monotonic(), request.path, dict(request.headers), body)
            )
            n = len(self.arrivals)
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            self._changed.notify_all()
        try:
            return await self.behaviour(request, n)
        finally:
            self.concurrent -= 1

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Arrival]:
        """Wait until ``count`` requests have arrived (bounded in time)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.arrivals) >= count)
        return self.arrivals


def answer(status: int, headers: dict[str, str] | None = None, text: str = "") -> Behaviour:
    async def respond(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=status, headers=headers, text=text or f"status {status}")

    return respond


def in_turn(*behaviours: Behaviour) -> Behaviour:
    """The n-th request gets the n-th behaviour; the last one repeats."""

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return await behaviours[min(n, len(behaviours)) - 1](request, n)

    return respond


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return await (then or answer(200))(request, n)

    return respond


def reset_connection() -> Behaviour:
    """Drop the connection without an answer (a crash or a reset)."""

    async def respond(request: web.Request, _: int) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    return respond


def huge_body(owner: Subscriber, total: int, chunk: int = 64 * 1024) -> Behaviour:
    """Stream ``total`` bytes of answer, counting what the client let through."""

    async def respond(request: web.Request, _: int) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.content_length = total
        await response.prepare(request)
        block = b"x" * chunk
        try:
            while owner.bytes_written < total:
                await response.write(block)
                owner.bytes_written += len(block)
        except (ConnectionResetError, OSError):
            pass
        return response

    return respond
