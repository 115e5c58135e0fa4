"""Store errors that reach an API handler become problems, never a 500."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.http.problems import Problem
from gateway.store import InvalidData, StoreUnavailable

__all__ = ["store_error_middleware"]


@web.middleware
async def store_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except InvalidData:
        raise Problem(
            400,
            "a value in the request cannot be stored or searched for (NUL or bad encoding)",
            kind="invalid-value",
        ) from None
    except StoreUnavailable:
        raise Problem(
            503,
            "the database is unavailable; retry later",
            kind="storage-unavailable",
            headers={"Retry-After": "5"},
        ) from None
