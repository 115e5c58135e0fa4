"""Close, rather than drain, a connection whose request body was refused before it was read.

aiohttp otherwise keeps reading (and discarding) the rest of an unread body for up to
ten seconds after answering; a sender refused with 413, 403 or 429 is not worth that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["answer_and_close", "close_unread_body"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
