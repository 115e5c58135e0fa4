"""One subscriber: health, stats, recent failures grouped by cause; pause, resume,
rotate its secret (shown once), send it a test event, try a transform on an event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.api.subscriber_state import DEFAULT_OVERLAP
from gateway.api.subscribers import refuse_if_declared
from gateway.api.transforms import (
    TransformError,
    TransformTestIn,
    TransformTestOut,
    try_transform,
)
from gateway.console.access import CONSOLE, SESSION, needs
from gateway.console.render import page
from gateway.delivery.ping import send_ping
from gateway.delivery.signer import new_secret
from gateway.domain.transform import Transform
from gateway.domain.validation import Invalid
from gateway.http.problems import Problem
from gateway.store import Conflict, NotFound, flow
from gateway.store import console as console_store
from gateway.store import subscribers as store
from gateway.store.records import Subscriber
from gateway.store.stats import subscriber_stats

__all__ = ["ROUTES"]

STATS_WINDOW = 3600.0
FAILURES_WINDOW = 86400.0
DONE = {"paused": "Paused.", "resumed": "Resumed: deliveries go out again."}


async def _load(request: web.Request) -> Subscriber:
    sub_id = request.match_info["id"]
    try:
        return await store.get_subscriber(request.config_dict[CONSOLE].api.db, sub_id)
    except NotFound:
        raise Problem(404, f"No subscriber {sub_id}.") from None


async def _render(request: web.Request, sub: Subscriber, **extra: Any) -> web.Response:
    db = request.config_dict[CONSOLE].api.db
    stats = await subscriber_stats(db, sub.id, STATS_WINDOW)
    context: dict[str, Any] = {
        "notice": None,
        "new_secret": None,
        "ping": None,
        "tried": None,
        "try_source": sub.transform.source if sub.transform else "",
        "try_event_id": "",
        **extra,
    }
    return page(
        request,
        "subscriber.html",
        sub=sub,
        flow=(await flow.get_flows(db, [sub.id])).get(sub.id),
        stats=stats,
        success_ratio=stats.succeeded / stats.attempts if stats.attempts else None,
        causes=await console_store.failure_causes(db, sub.id, FAILURES_WINDOW),
        now=datetime.now(UTC),
        **context,
    )


def _back(sub: Subscriber, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/subscribers/{quote(sub.id, safe='')}?done={done}")


@needs("read")
async def subscriber(request: web.Request) -> web.Response:
    return await _render(
        request, await _load(request), notice=DONE.get(request.query.get("done", ""))
    )


@needs("write")
async def pause(request: web.Request) -> web.StreamResponse:
    sub = await _load(request)
    reason = f"paused from the console by {request[SESSION].subject or 'an operator'}"
    try:
        await store.pause(request.config_dict[CONSOLE].api.db, sub.id, reason)
    except Conflict as exc:
        raise Problem(409, str(exc)) from None
    raise _back(sub, "paused")


@needs("write")
async def resume(request: web.Request) -> web.StreamResponse:
    sub = await _load(request)
    await store.resume(request.config_dict[CONSOLE].api.db, sub.id)
    raise _back(sub, "resumed")


@needs("write")
async def rotate(request: web.Request) -> web.Response:
    """A new secret, shown on this answer only; the previous one signs too for a day.
    A subscriber declared in the config file keeps the secret the file gives it."""
    sub = await _load(request)
    refuse_if_declared(sub)
    secret = new_secret()
    expires = datetime.now(UTC) + DEFAULT_OVERLAP
    sub = await store.rotate_secret(request.config_dict[CONSOLE].api.db, sub.id, secret, expires)
    return await _render(request, sub, new_secret=secret)


@needs("write")
async def test_event(request: web.Request) -> web.Response:
    """Send a signed ping now and show how the subscriber answered."""
    sub = await _load(request)
    api = request.config_dict[CONSOLE].api
    result = await send_ping(
        sub, api.policy, api.config.delivery, brokers=api.config.brokers, egress=api.config.egress
    )
    return await _render(request, sub, ping=result)


@needs("read")
async def try_on_event(request: web.Request) -> web.Response:
    """Run the transform in the form (the subscriber's, or a draft) on a stored event and
    show what it would send, or its error: ``POST /api/v1/transforms/test``'s answer."""
    sub = await _load(request)
    form = await request.post()
    source = str(form.get("source", "")).replace("\r\n", "\n")
    event_id = str(form.get("event_id", "")).strip()
    try:
        given = TransformTestIn(
            transform=Transform(source=source), event_id=event_id, subscriber=sub.name
        )
        tried = await try_transform(request.config_dict[CONSOLE].api, given)
    except (Invalid, Problem) as exc:
        message = exc.reason if isinstance(exc, Invalid) else exc.detail
        error = TransformError(message=message, line=None, column=None)
        tried = TransformTestOut(ok=False, version="", duration_ms=0.0, error=error)
    return await _render(request, sub, tried=tried, try_source=source, try_event_id=event_id)


ROUTES = [
    ("GET", "/subscribers/{id:[A-Za-z0-9_]+}", subscriber),
    ("POST", "/subscribers/{id:[A-Za-z0-9_]+}/pause", pause),
    ("POST", "/subscribers/{id:[A-Za-z0-9_]+}/resume", resume),
    ("POST", "/subscribers/{id:[A-Za-z0-9_]+}/rotate-secret", rotate),
    ("POST", "/subscribers/{id:[A-Za-z0-9_]+}/test", test_event),
    ("POST", "/subscribers/{id:[A-Za-z0-9_]+}/try-transform", try_on_event),
]
