"""RFC 9457 problem details: one exception, one middleware, for every listener."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = [
    "CONTENT_TYPE",
    "Problem",
    "internal_error",
    "problem_body",
    "problem_middleware",
    "problem_response",
]

log = logging.getLogger("gateway.http")
CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://webhook-gateway.dev/problems/"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """Raise anywhere in a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = dict(headers or {})
        self.extra = extra


def internal_error() -> Problem:
    """The answer to an error the gateway did not expect: it names nothing of it (the
    error is logged, with its traceback, where it was caught)."""
    return Problem(500, "internal error; it has been logged")


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        body=problem_body(problem, instance),
        content_type=CONTENT_TYPE,
        headers=problem.headers,
    )


def problem_body(problem: Problem, instance: str | None = None) -> bytes:
    """The problem document (RFC 9457) of ``problem``, as JSON."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.kind,
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    body.update(problem.extra)
    return orjson.dumps(body)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as problem+json; an unexpected one is logged, never shown."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        detail = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        return problem_response(Problem(exc.status, detail, headers=headers), request.path)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(internal_error(), request.path)
