"""``GET /api/v1/subscribers/{id}/stats``: how a subscriber has been doing lately."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from gateway.api.common import json_response
from gateway.api.endpoint import decode_query, endpoint
from gateway.api.fields import Timestamp
from gateway.api.state import API
from gateway.http.problems import Problem
from gateway.store import NotFound
from gateway.store import subscribers as subscribers_store
from gateway.store.stats import subscriber_stats

__all__ = ["HANDLERS"]


class StatsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window_seconds: Annotated[int, Meta(ge=60, le=30 * 86400, description="default one hour")] = (
        3600
    )


class Backlog(msgspec.Struct, kw_only=True):
    queued: int
    pending: int
    in_flight: int
    dead: int


class SubscriberStatsOut(msgspec.Struct, kw_only=True):
    window_seconds: float
    attempts: int
    succeeded: int
    success_ratio: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    backlog: Backlog
    circuit_state: str
    circuit_open_until: Timestamp | None
    consecutive_failures: int
    failing_since: Timestamp | None


@endpoint(
    "GET",
    "/subscribers/{id}/stats",
    scope="read",
    summary="Recent health of a subscriber",
    tag="subscribers",
    query=StatsQuery,
    response=SubscriberStatsOut,
    errors=[404],
)
async def stats(request: web.Request) -> web.Response:
    db = request.app[API].db
    query = decode_query(request, StatsQuery)
    subscriber_id = request.match_info["id"]
    try:
        await subscribers_store.get_subscriber(db, subscriber_id)
    except NotFound:
        raise Problem(404, f"no subscriber {subscriber_id}", kind="not-found") from None
    found = await subscriber_stats(db, subscriber_id, query.window_seconds)
    values = dataclasses.asdict(found)
    values["backlog"] = Backlog(**found.backlog)
    values["success_ratio"] = found.succeeded / found.attempts if found.attempts else None
    return json_response(SubscriberStatsOut(**values))


HANDLERS = [stats]
