"""Listeners whose shutdown does not wait for connections that arrived as it began.

aiohttp's server shuts down in two steps: it closes every connection it has, then waits
for each. A connection accepted between the two starts waiting for a request after the
close, and nothing wakes it: the shutdown then waits until something else ends it (the
ingress's head deadline, 10 s by default, or the runner's shutdown timeout). A handler
here closes once more as its shutdown starts.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = ["ClosingRequestHandler", "ClosingRunner", "ClosingServer"]


class ClosingRequestHandler(RequestHandler):
    """aiohttp's connection handler, closed again as its shutdown starts."""

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        self.close()
        await super().shutdown(timeout)


class ClosingServer(web.Server):
    """aiohttp's low-level server (``plain``, as a runner made it), serving its
    connections with :class:`ClosingRequestHandler`."""

    def __init__(self, plain: web.Server) -> None:
        super().__init__(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )

    def __call__(self) -> RequestHandler:
        return ClosingRequestHandler(self, loop=self._loop, **self._kwargs)


class ClosingRunner(web.AppRunner):
    """An ``AppRunner`` whose connections are :class:`ClosingRequestHandler`."""

    async def _make_server(self) -> web.Server:
        return ClosingServer(await super()._make_server())
