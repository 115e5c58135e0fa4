"""``/api/v1/events``: search stored events; one event with its deliveries; its body."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import decode_query, endpoint
from gateway.api.event_models import EventDetail, EventOut, EventPage, EventQuery
from gateway.api.models import DeliveryOut
from gateway.api.routing import not_routed
from gateway.api.state import API
from gateway.domain.document import body_json
from gateway.domain.event_types import glob_to_like
from gateway.domain.privacy import hide_headers, redact_body, redact_document
from gateway.http.problems import Problem
from gateway.store import NotFound
from gateway.store import deliveries as deliveries_store
from gateway.store import events as store
from gateway.store.database import Database
from gateway.store.records import Event
from gateway.store.sources import get_source

__all__ = ["HANDLERS", "shown_headers"]


@endpoint("GET", "/events", scope="read", summary="Search events", tag="events",
          query=EventQuery, response=EventPage)  # fmt: skip
async def list_events(request: web.Request) -> web.Response:
    q = decode_query(request, EventQuery)
    rows = await store.list_events(
        request.app[API].db,
        source=q.source,
        event_type_like=glob_to_like(q.event_type) if q.event_type else None,
        external_id=q.external_id,
        received_from=q.received_from,
        received_to=q.received_to,
        before=q.cursor,
        limit=q.limit + 1,
    )
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    data = [EventOut(**dataclasses.asdict(r)) for r in rows]
    return json_response(EventPage(data=data, next_cursor=rows[-1].id if more else None))


@endpoint("GET", "/events/{id}", scope="read", summary="An event with its deliveries",
          tag="events", response=EventDetail, errors=[404])  # fmt: skip
async def get_event(request: web.Request) -> web.Response:
    state = request.app[API]
    event = await _load(request)
    rules = state.config.privacy.rules_for(event.source)
    shown_json, shown_text = _show(event, rules)
    deliveries = await deliveries_store.list_deliveries(state.db, event_id=event.id, limit=1000)
    headers = await shown_headers(state.db, event)
    detail = EventDetail(
        id=event.id,
        source=event.source,
        external_id=event.external_id,
        event_type=event.event_type,
        ordering_key=event.ordering_key,
        received_at=event.received_at,
        content_type=event.content_type,
        size=len(event.body),
        headers=headers,
        trace_id=event.trace_id,
        body_json=shown_json,
        body_text=shown_text,
        deliveries=[DeliveryOut(**dataclasses.asdict(d)) for d in deliveries],
        not_routed=await not_routed(state.db, event, rules, headers),
    )
    return json_response(detail)


@endpoint("GET", "/events/{id}/body", scope="read", summary="The stored body", tag="events",
          errors=[404])  # fmt: skip
async def get_body(request: web.Request) -> web.Response:
    """The body as received, with the content type it came with (privacy rules applied)."""
    event = await _load(request)
    body = redact_body(event.body, request.app[API].config.privacy.rules_for(event.source))
    return web.Response(
        body=body,
        headers={"Content-Type": event.content_type or "application/octet-stream"},
    )


async def shown_headers(db: Database, event: Event) -> dict[str, str]:
    """The event's stored headers as every exit shows them: secret ones hidden, by the
    common rule and by its source's own ``signature_header`` (events stored before
    headers were hidden at ingest still hold the values)."""
    try:
        own = (await get_source(db, event.source)).spec.get("signature_header")
    except NotFound:  # the source has been deleted since
        own = None
    return hide_headers(event.headers, (own,) if isinstance(own, str) else ())


def _show(event: Event, rules: Sequence[str]) -> tuple[object, str | None]:
    """The body as JSON and as text, privacy rules applied. An XML body is shown as both:
    its JSON view, and its text (only when no rule applies: the text cannot be masked)."""
    if event.body_view is not None:
        return redact_document(event.body_view, rules), None if rules else _text(event.body)
    document = body_json(redact_body(event.body, rules))
    if document is not None:
        return document, None
    return None, _text(event.body)


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def _load(request: web.Request) -> Event:
    event_id = request.match_info["id"]
    try:
        return await store.get_event(request.app[API].db, event_id)
    except NotFound:
        raise Problem(404, f"no event {event_id}", kind="not-found") from None


HANDLERS = [list_events, get_event, get_body]
