"""One structured log line per ingress request: source, status, event id, duration.

Nothing of the request's headers or body is logged (they carry signatures and customer
data), nor its query string. When INFO is off for ``gateway.access`` the middleware
costs one level check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from gateway.observability import log_event

__all__ = ["request_log"]

log = logging.getLogger("gateway.access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MAX_PATH = 200
_QUIET = frozenset({"/healthz"})  # load balancers ask every few seconds


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log each request once it is answered (outermost middleware, so errors are seen)."""
    if not log.isEnabledFor(logging.INFO) or request.path in _QUIET:
        return await handler(request)
    started = time.perf_counter()
    status = 500
    fields: dict[str, Any] = {}
    try:
        response = await handler(request)
        status = response.status
        if isinstance(response, web.Response):
            fields = _answer_fields(response)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log_event(
            log,
            logging.INFO if status < 500 else logging.WARNING,
            "request",
            method=request.method,
            path=request.path[:_MAX_PATH],
            source=request.match_info.get("source"),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            peer=request.remote,
            **fields,
        )


def _answer_fields(response: web.Response) -> dict[str, Any]:
    """The event id of a stored event, or the kind of a problem answer; else nothing."""
    body = response.body
    if not isinstance(body, bytes) or not body.startswith(b"{") or len(body) > 4096:
        return {}
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(answer, dict):
        return {}
    if "event_id" in answer:
        return {"event_id": answer["event_id"], "duplicate": answer.get("duplicate")}
    kind = answer.get("type")
    return {"problem": kind.rsplit("/", 1)[-1]} if isinstance(kind, str) else {}
