"""``POST /api/v1/subscribers/{id}/test``: send a signed ping now and say how it went."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import endpoint
from gateway.api.models import PingResult
from gateway.api.state import API
from gateway.api.subscribers import load_subscriber
from gateway.delivery.ping import send_ping

__all__ = ["HANDLERS"]


@endpoint(
    "POST",
    "/subscribers/{id}/test",
    scope="write",
    summary="Send a signed test event now (nothing is stored or retried); into a broker, "
    "it is published there",
    tag="subscribers",
    response=PingResult,
    errors=[404],
)
async def test_subscriber(request: web.Request) -> web.Response:
    state = request.app[API]
    sub = await load_subscriber(request)
    result = await send_ping(
        sub,
        state.policy,
        state.config.delivery,
        brokers=state.config.brokers,
        egress=state.config.egress,
    )
    return json_response(
        PingResult(
            ok=result.ok,
            outcome=result.outcome,
            status_code=result.status_code,
            duration_ms=round(result.duration_ms, 3),
            error=result.error,
            response_snippet=result.response_snippet,
        )
    )


HANDLERS = [test_subscriber]
