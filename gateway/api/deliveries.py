"""``/api/v1/deliveries``: every delivery with its attempts; the dead letters and what to
do with them: retry one, retry all matching a filter (a background job), discard."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from aiohttp import web

from gateway.api.auth import required_scope
from gateway.api.common import json_response, page_params
from gateway.api.jobs import job_accepted
from gateway.api.models import (
    AttemptOut,
    DeliveryDetail,
    DeliveryFilterIn,
    DeliveryOut,
    Page,
    decode_body,
)
from gateway.api.state import API
from gateway.delivery.filters import glob_to_like
from gateway.problems import Problem
from gateway.store import Conflict, NotFound, jobs, replay
from gateway.store import deliveries as store
from gateway.store.records import Delivery, DeliveryFilter

__all__ = ["add_routes"]

STATUSES = {"queued", "pending", "in_flight", "succeeded", "dead", "cancelled"}


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(**dataclasses.asdict(d))


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Problem(
            400, f"{name} must be an ISO 8601 time with a time zone", kind="invalid-parameter"
        )
    return value


def _filter(request: web.Request) -> DeliveryFilter:
    """``status``, ``subscriber_id``, ``event_id``, ``source``, ``event_type`` (a glob),
    ``since`` and ``until`` (when the event was received) from the query string."""
    q = request.query
    status = q.get("status")
    if status is not None and status not in STATUSES:
        raise Problem(400, f"status must be one of {sorted(STATUSES)}", kind="invalid-parameter")
    event_type = q.get("event_type")
    return DeliveryFilter(
        status=status,
        subscriber_id=q.get("subscriber_id"),
        event_id=q.get("event_id"),
        source=q.get("source"),
        event_type_like=glob_to_like(event_type) if event_type else None,
        since=_time(request, "since"),
        until=_time(request, "until"),
    )


@required_scope("read")
async def list_(request: web.Request) -> web.Response:
    cursor, limit = page_params(request)
    rows = await store.list_deliveries(
        request.app[API].db, after=cursor, limit=limit + 1, where=_filter(request)
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


async def _act(request: web.Request, action: str) -> web.Response:
    db = request.app[API].db
    delivery_id = request.match_info["id"]
    try:
        await (store.retry if action == "retry" else store.discard)(db, delivery_id)
    except NotFound:
        raise Problem(404, f"no delivery {delivery_id}", kind="not-found") from None
    except Conflict as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    status = 202 if action == "retry" else 200
    return json_response(_out(await store.get_delivery(db, delivery_id)), status=status)


@required_scope("replay")
async def retry(request: web.Request) -> web.Response:
    """Send a dead, succeeded or cancelled delivery again, with a fresh set of attempts."""
    return await _act(request, "retry")


@required_scope("replay")
async def discard(request: web.Request) -> web.Response:
    """Give up a dead (or not yet sent) delivery: ``cancelled``, and its key moves on."""
    return await _act(request, "discard")


@required_scope("replay")
async def retry_matching(request: web.Request) -> web.Response:
    """Retry every dead letter matching the filter, as a job: ``202`` and the job's id."""
    db = request.app[API].db
    raw = await request.read()
    body = decode_body(raw if raw.strip() else b"{}", DeliveryFilterIn)
    for name in ("since", "until"):
        value = getattr(body, name)
        if value is not None and value.tzinfo is None:
            raise Problem(422, f"{name} must carry a time zone", kind="validation")
    f = DeliveryFilter(
        status="dead",
        subscriber_id=body.subscriber_id,
        source=body.source,
        event_type_like=glob_to_like(body.event_type) if body.event_type else None,
        since=body.since,
        until=body.until,
    )
    params = {
        "subscriber_id": f.subscriber_id,
        "source": f.source,
        "event_type": body.event_type,
        "event_type_like": f.event_type_like,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
    }
    total = await replay.count_dead_letters(db, f)
    job = await jobs.create(db, "retry_dead", params, total)
    return job_accepted(request, job)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/deliveries", list_)
    app.router.add_post(f"{prefix}/deliveries/retry", retry_matching)
    app.router.add_get(f"{prefix}/deliveries/{{id}}", get)
    app.router.add_post(f"{prefix}/deliveries/{{id}}/retry", retry)
    app.router.add_post(f"{prefix}/deliveries/{{id}}/discard", discard)
