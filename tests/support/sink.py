"""A real subscriber on loopback that records what it receives and answers as told."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from aiohttp import web


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Sink:
    """``statuses`` are answered in turn; the last one repeats."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [200])
        self.received: list[Received] = []
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.on_request: Callable[[Received], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Sink:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
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

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(request.path, dict(request.headers), await request.read())
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        async with self._arrived:
            self.received.append(got)
            self._arrived.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "failing")

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` requests have arrived (bounded in time)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received
