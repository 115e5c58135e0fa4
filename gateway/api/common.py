"""Small helpers shared by the API's route modules."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from gateway.problems import Problem

__all__ = ["json_response", "page_params"]

MAX_LIMIT = 1000


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value), status=status, content_type="application/json"
    )


def page_params(request: web.Request) -> tuple[str | None, int]:
    """``cursor`` and ``limit`` from the query string (limit 1..1000, default 100)."""
    raw = request.query.get("limit", "100")
    try:
        limit = int(raw)
    except ValueError:
        raise Problem(400, "limit must be a whole number", kind="invalid-parameter") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(400, f"limit must be between 1 and {MAX_LIMIT}", kind="invalid-parameter")
    return request.query.get("cursor") or None, limit
