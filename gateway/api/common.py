"""Small helpers shared by the API's route modules."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

__all__ = ["json_response", "page_params"]


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value), status=status, content_type="application/json"
    )


def page_params(request: web.Request) -> tuple[str | None, int]:
    """``cursor`` and ``limit`` (1..1000, default 100); any other parameter is a 400."""
    from gateway.api.endpoint import decode_query
    from gateway.api.models import PageQuery

    query = decode_query(request, PageQuery)
    return query.cursor, query.limit
