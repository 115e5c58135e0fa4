"""Answer webhooks 503 + Retry-After first of all while the gateway is overloaded.

Under a burst, most requests are refused, so the refusal must cost as little as it can:
a loop that spends its CPU on 503s has none left for the webhooks it does take. This
middleware runs before every other one and before any check or read: a prepared body
per path, one counter, no logging (``gateway_ingest_requests{outcome="overloaded"}``
counts them). Requests that pass still meet the same test after their body is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.ingress.closing import answer_and_close
from gateway.ingress.routes import (
    INGRESS,
    OVERLOADED,
    UNKNOWN_SOURCE,
    IngressState,
    overloaded_now,
    retry_after,
)
from gateway.problems import CONTENT_TYPE, Problem, problem_body

__all__ = ["shed_when_overloaded"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MAX_BODIES = 1024  # prepared answers kept, one per path (the known sources' paths)


@web.middleware
async def shed_when_overloaded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A webhook POST that arrives while ``overloaded_now`` gets its 503 at once."""
    name = request.match_info.get("source")
    if name is None or request.method != "POST":
        return await handler(request)
    state = request.app[INGRESS]
    if not overloaded_now(state, arriving=1):
        return await handler(request)
    known = name in state.sources  # no look-up in the database while overloaded
    state.requests(name if known else UNKNOWN_SOURCE, "overloaded").inc()
    response = web.Response(
        status=503,
        body=_body(state, request.path, cache=known),
        content_type=CONTENT_TYPE,
        headers=retry_after(state),
    )
    if not request.content.is_eof():  # the body is left unread: close rather than drain
        return await answer_and_close(request, response)
    return response


def _body(state: IngressState, path: str, *, cache: bool) -> bytes:
    body = state.shed_bodies.get(path)
    if body is None:
        body = problem_body(Problem(503, OVERLOADED, kind="overloaded"), path)
        if cache and len(state.shed_bodies) < _MAX_BODIES:
            state.shed_bodies[path] = body
    return body
