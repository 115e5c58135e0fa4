"""Closing connections: at shutdown, and after a refusal whose body was left unread.

aiohttp's server shuts down in two steps: it closes every connection it has, then waits
for each. A connection accepted between the two starts waiting for a request after the
close, and nothing wakes it: the shutdown then waits until something else ends it (the
ingress's head deadline, 10 s by default, or the runner's shutdown timeout). A handler
here closes once more as its shutdown starts.

A request refused before its body was read (413, 403, 429, an overload 503) is answered
with ``Connection: close`` and its connection closed: aiohttp would otherwise keep
reading, and discarding, the rest of the body for up to ten seconds after answering.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.http.internals import ConnectionHandler, HandlerRunner

__all__ = [
    "ClosingRequestHandler",
    "ClosingRunner",
    "answer_and_close",
    "close_unread_body",
]


class ClosingRequestHandler(ConnectionHandler):
    """aiohttp's connection handler, closed again as its shutdown starts."""

    __slots__ = ()

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        self.close()
        await super().shutdown(timeout)


class ClosingRunner(HandlerRunner):
    """An ``AppRunner`` whose connections are :class:`ClosingRequestHandler`."""

    def make_handler(self, server: web.Server, **options: Any) -> ClosingRequestHandler:
        return ClosingRequestHandler(server, **options)


@web.middleware
async def close_unread_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Send the answer with ``Connection: close`` and close at once if the body is unread."""
    response = await handler(request)
    if request.content.is_eof() or response.prepared:
        return response
    return await answer_and_close(request, response)


async def answer_and_close(
    request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """Send ``response`` with ``Connection: close``, then close without reading more."""
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the client is gone already (it stopped sending): no one to answer
    request.protocol.force_close()
    return response
