"""Answer webhooks 503 + Retry-After first of all while the gateway is overloaded.

Under a burst, most requests are refused, so the refusal must cost as little as it can:
a loop that spends its CPU on 503s has none left for the webhooks it does take. Two
places refuse, both with a prepared body per path, one counter and no logging
(``gateway_ingest_requests{outcome="overloaded"}`` counts them):

- :class:`EarlyRefusal`, in the ingress connection's protocol, before aiohttp parses the
  request or builds anything for it. It answers only a plain webhook, judged from the
  bytes alone by the fast path's own strict test -- ``POST /webhooks/v1/{source}
  HTTP/1.1`` that aiohttp would read the same way, with a ``Content-Length`` and the
  whole body in hand, nothing after it (ingress/framing.py) -- and the connection stays
  open for the sender's next request. That is what a burst of webhooks is made of.
- :func:`shed_when_overloaded`, the ingress app's first middleware, for every other
  webhook: before any check or read.

Requests that pass still meet the same test after their body is read.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.typedefs import Handler

from gateway.http.closing import answer_and_close
from gateway.http.problems import CONTENT_TYPE, Problem, problem_body
from gateway.ingress.early import Peer
from gateway.ingress.framing import plain_webhook
from gateway.ingress.routes import (
    INGRESS,
    OVERLOADED,
    UNKNOWN_SOURCE,
    IngressState,
    overloaded_now,
    retry_after,
)

__all__ = ["EarlyRefusal", "shed_when_overloaded"]


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
    response = web.Response(
        status=503,
        body=_refused(state, name, request.path),
        content_type=CONTENT_TYPE,
        headers=retry_after(state),
    )
    if not request.content.is_eof():  # the body is left unread: close rather than drain
        return await answer_and_close(request, response)
    return response


def _refused(state: IngressState, name: str, path: str) -> bytes:
    """Count a refusal of source ``name``'s webhook; the problem document for ``path``."""
    known = name in state.sources  # no look-up in the database while overloaded
    state.requests(name if known else UNKNOWN_SOURCE, "overloaded").inc()
    body = state.shed_bodies.get(path)
    if body is None:
        body = problem_body(Problem(503, OVERLOADED, kind="overloaded"), path)
        if known and len(state.shed_bodies) < _MAX_BODIES:
            state.shed_bodies[path] = body
    return body


class EarlyRefusal:
    """The overload 503 answered from the raw bytes of a request (see the module docstring).

    Called with each chunk that starts a request on an idle connection; returns the
    whole answer to write, or ``None`` to let aiohttp handle the request as usual.
    """

    def __init__(self, state: IngressState) -> None:
        self.state = state
        self._head = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\nRetry-After: %s\r\n"
            % (CONTENT_TYPE.encode(), retry_after(state)["Retry-After"].encode())
        )

    def __call__(self, data: bytes, peer: Peer | None = None) -> bytes | None:
        state = self.state
        if not overloaded_now(state, arriving=1):
            return None
        plain = plain_webhook(data)
        if plain is None:
            return None
        body = _refused(state, plain.source, plain.path)
        return b"".join(
            (
                self._head,
                b"Content-Length: %d\r\nDate: " % len(body),
                rfc822_formatted_time().encode(),  # aiohttp's own, cached per second
                b"\r\n\r\n",
                body,
            )
        )
