"""An HTTP proxy in front of the SQS emulator that can hold back chosen calls.

Held calls (by their operation, e.g. ``DeleteMessageBatch``) never reach SQS and get no
answer until :meth:`SqsProxy.release`: a test sees a gateway's delete arrive, which it
sends only after the COMMIT, and can kill the gateway right there, between the COMMIT
and the delete, every time.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from testkit.sinks import listen

__all__ = ["SqsProxy"]

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class SqsProxy:
    """Forwards to ``upstream``; :attr:`endpoint_url` is what the gateway is given."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.holding: frozenset[str] = frozenset()
        self.held: list[str] = []  # the operations held, in order
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self, *operations: str) -> None:
        """Hold every call of ``operations`` from now on."""
        self.holding = frozenset(operations)
        self._released.clear()

    def release(self) -> None:
        """Hold nothing more; the calls held are answered 503 (never sent to SQS)."""
        self.holding = frozenset()
        self._released.set()

    async def start(self) -> SqsProxy:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        self.port = await listen(self._runner)
        return self

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        if operation in self.holding:
            self.held.append(operation)
            await self._released.wait()
            return web.Response(status=503, text="held by the test")
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._client.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            headers=headers,
            data=await request.read(),
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, body=body, headers=kept)

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
