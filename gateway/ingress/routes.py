"""``/webhooks/v1/{source}`` on aiohttp's request path: the request to the intake, its
outcome to a response.

The intake (ingress/intake.py) does all of it -- every check, the store, the answer, its
count and its log line. Plain webhooks usually never come here: the fast path
(ingress/fastpath.py) hands them to the same intake from their bytes.
"""

from __future__ import annotations

from aiohttp import web

from gateway.http.problems import Problem
from gateway.http.requestlog import LOGGED
from gateway.ingress.inbound import Arrival, too_large
from gateway.ingress.intake import Intake

__all__ = ["INGRESS", "add_routes"]

INGRESS = web.AppKey("ingress", Intake)


async def receive(request: web.Request) -> web.Response:
    intake = request.app[INGRESS]
    request[LOGGED] = True  # by the intake (an overload refusal: not at all)
    outcome = await intake.take(
        Arrival(
            request.method,
            request.path,
            request.match_info["source"],
            request.remote,
            request.secure,
            request.headers,
            request.content_length,
            _Body(request),
        )
    )
    return web.Response(
        status=outcome.status,
        body=outcome.body,
        content_type=outcome.content_type,
        headers=outcome.headers,
    )


class _Body:
    """The body of an aiohttp request, read within a limit."""

    __slots__ = ("request",)

    def __init__(self, request: web.Request) -> None:
        self.request = request

    async def read(self, limit: int) -> bytes:
        """Read at most ``limit`` bytes; a larger body (declared or chunked) is a 413 at once.

        The limit counts decoded bytes (after any ``Content-Encoding``); a body that cannot
        be decoded is a 400.
        """
        request = self.request
        if request.content_length is not None and request.content_length > limit:
            raise too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = await request.content.readany()
            except web.RequestPayloadError:
                raise Problem(
                    400, "the body could not be decoded as sent", kind="body-unreadable"
                ) from None
            except ConnectionResetError:  # the client went away (or was cut off as too slow)
                raise Problem(
                    400,
                    "the connection closed before the body was complete",
                    kind="body-incomplete",
                ) from None
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/webhooks/v1/{source}", receive)
