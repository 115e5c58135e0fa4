"""Everything under ``/api/v1``: the endpoints and their OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api import (
    deliveries,
    events,
    jobs,
    replay,
    sources,
    subscriber_ping,
    subscriber_state,
    subscriber_stats,
    subscribers,
    tokens,
    transforms,
)
from gateway.api.auth import AUTHENTICATOR, Authenticator
from gateway.api.endpoint import add_endpoints
from gateway.api.openapi import build_document
from gateway.api.state import API, ApiState

__all__ = ["API_PREFIX", "add_api"]

API_PREFIX = "/api/v1"
DOCUMENTED: list[Handler] = [
    *subscribers.HANDLERS,
    *subscriber_state.HANDLERS,
    *subscriber_ping.HANDLERS,
    *subscriber_stats.HANDLERS,
    *sources.HANDLERS,
    *events.HANDLERS,
    *replay.HANDLERS,
    *deliveries.HANDLERS,
    *jobs.HANDLERS,
    *tokens.HANDLERS,
    *transforms.HANDLERS,
]


def add_api(app: web.Application, api: ApiState, authenticator: Authenticator) -> None:
    app[API] = api
    app[AUTHENTICATOR] = authenticator
    app.cleanup_ctx.append(authenticator.revoked.lifespan)  # reloaded while serving

    async def stop_transforms(_: web.Application) -> None:
        await api.transforms.close()

    app.on_cleanup.append(stop_transforms)
    add_endpoints(app, API_PREFIX, DOCUMENTED)
    document = build_document(API_PREFIX, DOCUMENTED)
    body = web.json_response(document).body

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi)
