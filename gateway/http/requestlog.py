"""One structured log line per ingress request: source, status, event id, duration.

Stored events (and 503s with Retry-After) are logged at DEBUG, refusals at INFO and
failures at WARNING, so the hot path writes no line per request at the default level.

Nothing of the request's headers or body is logged (they carry signatures and customer
data), nor its query string. When INFO is off for ``gateway.access`` (say, at WARNING)
the middleware costs one level check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.observability import log_event

__all__ = ["LOGGED", "log_answer", "request_log"]

log = logging.getLogger("gateway.access")

LOGGED = web.RequestKey("logged", bool)
"""Set on a request whose handler logged its line itself (the ingress's webhooks)."""
_MAX_PATH = 200
_QUIET = frozenset({"/healthz"})  # load balancers ask every few seconds


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log each request once it is answered (outermost middleware, so errors are seen)."""
    if request.path in _QUIET or not log.isEnabledFor(logging.INFO):
        return await handler(request)
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if not request.get(LOGGED, False):
            _log_request(request, status, response, started)


def _log_request(
    request: web.Request, status: int, response: web.StreamResponse | None, started: float
) -> None:
    log_answer(
        request.method,
        request.path,
        request.match_info.get("source"),
        status,
        response.headers if response is not None else {},
        response.body if isinstance(response, web.Response) else None,
        time.perf_counter() - started,
        request.remote,
    )


def log_answer(
    method: str,
    path: str,
    source: str | None,
    status: int,
    headers: Mapping[str, str],
    body: object,
    seconds: float,
    peer: str | None,
) -> None:
    """The line of one answered request, at the level its status calls for (if enabled).
    The ingress's intake writes its webhooks' lines with this (ingress/intake.py)."""
    level = _level(status, headers)
    if log.isEnabledFor(level):
        log_event(
            log,
            level,
            "request",
            method=method,
            path=path[:_MAX_PATH],
            source=source,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            peer=peer,
            **_answer_fields(body),
        )


def _level(status: int, headers: Mapping[str, str]) -> int:
    """DEBUG for what goes as planned, so a busy (or shedding) gateway logs nothing per
    request at INFO: stored events, and 503s that tell the sender when to come back
    (counted in ``gateway_ingest_requests``). INFO for refusals, WARNING for failures."""
    if status < 400 or (status == 503 and "Retry-After" in headers):
        return logging.DEBUG
    return logging.INFO if status < 500 else logging.WARNING


def _answer_fields(body: object) -> dict[str, Any]:
    """The event id of a stored event, or the kind of a problem answer; else nothing."""
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
