"""Replay: an event to all its subscribers or to one (at once), or every event of a
source in a time range to one subscriber (a background job: a new subscriber catching up).

- ``POST /api/v1/events/{id}/replay`` ``{"subscriber_id": …}`` (optional) →
  ``202 {"event_id", "delivery_ids"}``
- ``POST /api/v1/events/replay`` ``{"source", "subscriber_id", "since", "until"}`` →
  ``202 {"job_id", "status_url"}``
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import add_endpoints, endpoint
from gateway.api.jobs import job_accepted
from gateway.api.models import (
    EventReplayed,
    EventReplayIn,
    JobAccepted,
    SourceReplayIn,
    decode_body,
)
from gateway.api.state import API
from gateway.http.problems import Problem
from gateway.store import NotFound, jobs, replay, subscribers

__all__ = ["HANDLERS", "add_routes"]


async def _body(request: web.Request) -> bytes:
    raw = await request.read()
    return raw if raw.strip() else b"{}"


async def _known_subscriber(request: web.Request, subscriber_id: str) -> None:
    try:
        await subscribers.get_subscriber(request.app[API].db, subscriber_id)
    except NotFound:
        raise Problem(
            422,
            f"subscriber_id: no subscriber {subscriber_id}",
            kind="validation",
            errors=[{"field": "subscriber_id", "message": "no such subscriber"}],
        ) from None


@endpoint(
    "POST",
    "/events/{id}/replay",
    scope="replay",
    summary="Send an event again to its subscribers, or one",
    tag="events",
    status=202,
    body=EventReplayIn,
    response=EventReplayed,
    errors=[404, 422],
)
async def replay_event(request: web.Request) -> web.Response:
    event_id = request.match_info["id"]
    body = decode_body(await _body(request), EventReplayIn)
    if body.subscriber_id is not None:
        await _known_subscriber(request, body.subscriber_id)
    try:
        ids = await replay.replay_event(request.app[API].db, event_id, body.subscriber_id)
    except NotFound:
        raise Problem(404, f"no event {event_id}", kind="not-found") from None
    return json_response(EventReplayed(event_id=event_id, delivery_ids=ids), status=202)


@endpoint(
    "POST",
    "/events/replay",
    scope="replay",
    summary="Replay a source's events in a time range to one subscriber, as a job",
    tag="events",
    status=202,
    body=SourceReplayIn,
    response=JobAccepted,
    errors=[422],
)
async def replay_source(request: web.Request) -> web.Response:
    db = request.app[API].db
    body = decode_body(await _body(request), SourceReplayIn)
    for name in ("since", "until"):
        value = getattr(body, name)
        if value is not None and value.tzinfo is None:
            raise Problem(422, f"{name} must carry a time zone", kind="validation")
    await _known_subscriber(request, body.subscriber_id)
    params = {
        "source": body.source,
        "subscriber_id": body.subscriber_id,
        "since": body.since.isoformat() if body.since else None,
        "until": body.until.isoformat() if body.until else None,
    }
    total = await replay.count_source_events(db, body.source, body.since, body.until)
    job = await jobs.create(db, "replay_source", params, total)
    return job_accepted(request, job)


HANDLERS = [replay_event, replay_source]


def add_routes(app: web.Application, prefix: str) -> None:
    add_endpoints(app, prefix, HANDLERS)
