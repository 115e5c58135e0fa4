"""``/api/v1/deliveries``: every delivery with its attempts; the dead letters and what to
do with them: retry one, retry all matching a filter (a background job), discard."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import add_endpoints, decode_query, endpoint
from gateway.api.jobs import job_accepted
from gateway.api.models import (
    AttemptOut,
    DeliveryDetail,
    DeliveryFilterIn,
    DeliveryOut,
    DeliveryPage,
    DeliveryQuery,
    JobAccepted,
    decode_body,
)
from gateway.api.state import API
from gateway.domain.event_types import glob_to_like
from gateway.http.problems import Problem
from gateway.store import Conflict, NotFound, jobs, replay
from gateway.store import deliveries as store
from gateway.store.records import Delivery, DeliveryFilter

__all__ = ["HANDLERS", "add_routes"]

STATUSES = {"queued", "pending", "in_flight", "succeeded", "dead", "cancelled"}


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(**dataclasses.asdict(d))


def _filter(q: DeliveryQuery) -> DeliveryFilter:
    """Which deliveries a listing asks for; ``since``/``until`` bound when the event came."""
    return DeliveryFilter(
        status=q.status,
        subscriber_id=q.subscriber_id,
        event_id=q.event_id,
        source=q.source,
        event_type_like=glob_to_like(q.event_type) if q.event_type else None,
        since=q.since,
        until=q.until,
    )


@endpoint(
    "GET",
    "/deliveries",
    scope="read",
    summary="List deliveries; dead letters with status=dead",
    tag="deliveries",
    query=DeliveryQuery,
    response=DeliveryPage,
)
async def list_(request: web.Request) -> web.Response:
    q = decode_query(request, DeliveryQuery)
    rows = await store.list_deliveries(
        request.app[API].db, after=q.cursor, limit=q.limit + 1, where=_filter(q)
    )
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return json_response(
        DeliveryPage(data=[_out(d) for d in rows], next_cursor=rows[-1].id if more else None)
    )


@endpoint(
    "GET",
    "/deliveries/{id}",
    scope="read",
    summary="A delivery with every attempt",
    tag="deliveries",
    response=DeliveryDetail,
    errors=[404],
)
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


@endpoint(
    "POST",
    "/deliveries/{id}/retry",
    scope="replay",
    summary="Send a finished delivery again",
    tag="deliveries",
    status=202,
    response=DeliveryOut,
    errors=[404, 409],
)
async def retry(request: web.Request) -> web.Response:
    """Send a dead, succeeded or cancelled delivery again, with a fresh set of attempts."""
    return await _act(request, "retry")


@endpoint(
    "POST",
    "/deliveries/{id}/discard",
    scope="replay",
    summary="Give up a delivery",
    tag="deliveries",
    response=DeliveryOut,
    errors=[404, 409],
)
async def discard(request: web.Request) -> web.Response:
    """Give up a dead (or not yet sent) delivery: ``cancelled``, and its key moves on."""
    return await _act(request, "discard")


@endpoint(
    "POST",
    "/deliveries/retry",
    scope="replay",
    summary="Retry every dead letter matching a filter, as a job",
    tag="deliveries",
    status=202,
    body=DeliveryFilterIn,
    response=JobAccepted,
    errors=[422],
)
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


HANDLERS = [list_, get, retry, discard, retry_matching]


def add_routes(app: web.Application, prefix: str) -> None:
    add_endpoints(app, prefix, HANDLERS)
