"""A real subscriber on loopback that records what it receives and answers as told.

A :class:`Sink` answers its ``statuses`` in turn (the last one repeats), or runs a
``behaviour`` for each request: :func:`answer`, :func:`in_turn`, :func:`slow`,
:func:`reset_connection`, :func:`huge_body`, or one of the caller's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Behaviour = Callable[[web.Request, int], Awaitable[web.StreamResponse]]
"""``behaviour(request, n)`` answers the ``n``-th request (1-based); its body is read."""


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() once the body was read
    client_name: str | None = None  # over mTLS: the client certificate's common name


def _client_name(request: web.Request) -> str | None:
    certificate = request.transport and request.transport.get_extra_info("peercert")
    for rdn in (certificate or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


async def listen(runner: web.BaseRunner, port: int = 0, **site: object) -> int:
    """Set ``runner`` up and serve it on 127.0.0.1 (any free port by default); the port."""
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", port, **site)  # type: ignore[arg-type]
    await tcp.start()
    assert tcp._server is not None
    return int(tcp._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


class Sink:
    """Records every request; counts how many it handles at once (``max_concurrent``) and,
    for :func:`huge_body`, the bytes it managed to write (``bytes_written``)."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        behaviour: Behaviour | None = None,
        port: int = 0,
        backlog: int = 128,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.statuses = list(statuses or [200])
        self.behaviour: Behaviour = behaviour or self._in_turn
        self.received: list[Received] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.bytes_written = 0
        self.port = port
        self._backlog = backlog
        self._ssl_context = ssl_context
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def arrivals(self) -> list[Received]:
        """What arrived, in order (the same list as ``received``)."""
        return self.received

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    async def start(self) -> Sink:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        self.port = await listen(
            self._runner, self.port, backlog=self._backlog, ssl_context=self._ssl_context
        )
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` requests have arrived (bounded in time)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.received) >= count)
        return self.received

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        got = Received(
            request.path, dict(request.headers), body, time.monotonic(), _client_name(request)
        )
        async with self._changed:
            self.received.append(got)
            n = len(self.received)
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            self._changed.notify_all()
        try:
            return await self.behaviour(request, n)
        finally:
            self.concurrent -= 1

    async def _in_turn(self, _: web.Request, __: int) -> web.StreamResponse:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, text="ok" if status < 300 else "failing")


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


def huge_body(owner: Sink, total: int, chunk: int = 64 * 1024) -> Behaviour:
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
