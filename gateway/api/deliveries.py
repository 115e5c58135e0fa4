"""``/api/v1/deliveries``: every delivery with its attempts; retry from the dead letters."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gateway.api.auth import required_scope
from gateway.api.common import json_response, page_params
from gateway.api.models import AttemptOut, DeliveryDetail, DeliveryOut, Page
from gateway.api.state import API
from gateway.problems import Problem
from gateway.store import Conflict, NotFound
from gateway.store import deliveries as store
from gateway.store.records import Delivery

__all__ = ["add_routes"]

STATUSES = {"pending", "in_flight", "succeeded", "dead", "cancelled"}


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(**dataclasses.asdict(d))


@required_scope("read")
async def list_(request: web.Request) -> web.Response:
    cursor, limit = page_params(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise Problem(400, f"status must be one of {sorted(STATUSES)}", kind="invalid-parameter")
    rows = await store.list_deliveries(
        request.app[API].db,
        status=status,
        subscriber_id=request.query.get("subscriber_id"),
        event_id=request.query.get("event_id"),
        after=cursor,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        Page(data=[_out(d) for d in rows], next_cursor=rows[-1].id if more else None)
    )


@required_scope("read")
async def get(request: web.Request) -> web.Response:
    db = request.app[API].db
    delivery_id = request.match_info["id"]
    try:
        delivery = await store.get_delivery(db, delivery_id)
    except NotFound:
        raise Problem(404, f"no delivery {delivery_id}", kind="not-found") from None
    attempts = [
        AttemptOut(**dataclasses.asdict(a)) for a in await store.list_attempts(db, delivery_id)
    ]
    return json_response(DeliveryDetail(**dataclasses.asdict(delivery), attempt_log=attempts))


@required_scope("replay")
async def retry(request: web.Request) -> web.Response:
    state = request.app[API]
    delivery_id = request.match_info["id"]
    try:
        await store.retry(state.db, delivery_id)
    except NotFound:
        raise Problem(404, f"no delivery {delivery_id}", kind="not-found") from None
    except Conflict as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    return json_response(_out(await store.get_delivery(state.db, delivery_id)), status=202)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/deliveries", list_)
    app.router.add_get(f"{prefix}/deliveries/{{id}}", get)
    app.router.add_post(f"{prefix}/deliveries/{{id}}/retry", retry)
