"""The pages an on-call engineer reads: overview, search, one event with its timeline.

Everything comes from the database through ``gateway.store``, except the ack latency
p99, which only this process's metrics know (its histogram since it started).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from gateway.api.events import shown_headers
from gateway.api.routing import not_routed
from gateway.console.access import CONSOLE, needs
from gateway.console.figures import chart, histogram_quantile
from gateway.console.render import page, pretty_body
from gateway.domain.broker_destination import BrokerDestination
from gateway.domain.event_types import glob_to_like
from gateway.domain.privacy import redact_body
from gateway.http.problems import Problem
from gateway.store import NotFound, flow
from gateway.store import console as store
from gateway.store import deliveries as deliveries_store
from gateway.store import events as events_store
from gateway.store.maintenance import backlog
from gateway.store.records import EventSummary

__all__ = ["ROUTES", "SubscriberRow"]

WINDOWS = {1: "last hour", 24: "last 24 hours", 168: "last 7 days"}
RESULTS = 50
BODY_SEARCH_MS = 3000
BODY_SHOWN = 256 * 1024  # characters of the (pretty) body on the page
UNFINISHED = frozenset({"queued", "pending", "in_flight"})


@dataclasses.dataclass(slots=True)
class SubscriberRow:
    id: str
    name: str
    state: str
    circuit: str
    backlog: dict[str, int] = dataclasses.field(default_factory=dict)
    url: str | None = None
    destination: BrokerDestination | None = None

    @property
    def needs_attention(self) -> bool:
        return self.state != "active" or self.circuit != "closed"


async def _subscriber_rows(request: web.Request) -> list[SubscriberRow]:
    db = request.config_dict[CONSOLE].api.db
    rows = {
        name: SubscriberRow(sub_id, name, state, circuit)
        for sub_id, name, state, circuit in await flow.circuit_states(db)
    }
    for count in await backlog(db):
        if count.subscriber in rows:
            rows[count.subscriber].backlog[count.status] = count.count
    where = await store.destinations(db)
    for row in rows.values():
        row.url, row.destination = where.get(row.id, (None, None))
    return sorted(rows.values(), key=lambda r: r.name)


@needs("read")
async def overview(request: web.Request) -> web.Response:
    state = request.config_dict[CONSOLE].api
    minutes = await store.activity(state.db, 60)
    attempts = sum(m.attempts for m in minutes)
    delivered = sum(m.delivered for m in minutes)
    p99, acked = histogram_quantile(0.99, state.metrics.ack_latency)
    subscribers = await _subscriber_rows(request)
    return page(
        request,
        "overview.html",
        chart=chart(minutes),
        attempts=attempts,
        success_ratio=delivered / attempts if attempts else None,
        ack_p99_ms=None if p99 is None else p99 * 1000,
        acked=acked,
        subscribers=subscribers,
        attention=[s for s in subscribers if s.needs_attention],
    )


def _param(request: web.Request, name: str) -> str:
    """A query parameter as text PostgreSQL can hold (no NUL), trimmed and bounded."""
    return request.query.get(name, "").replace("\x00", "").strip()[:200]


def _hours(raw: str | None) -> int:
    try:
        value = int(raw or 24)
    except ValueError:
        return 24
    return value if value in WINDOWS else 24


@needs("read")
async def search(request: web.Request) -> web.StreamResponse:
    """By event id, sender event id, or text in the body within the time window."""
    db = request.config_dict[CONSOLE].api.db
    text = _param(request, "q")
    source = _param(request, "source") or None
    event_type = _param(request, "type") or None
    hours = _hours(request.query.get("hours"))
    since = datetime.now(UTC) - timedelta(hours=hours)
    if text.startswith("evt_"):
        try:
            await events_store.get_event(db, text)
        except NotFound:
            pass
        else:
            raise web.HTTPSeeOther(f"/console/events/{quote(text, safe='')}")
    like = glob_to_like(event_type) if event_type else None
    found = await events_store.list_events(
        db,
        source=source,
        event_type_like=like,
        external_id=text or None,
        received_from=None if text else since,
        limit=RESULTS,
    )
    in_body: list[EventSummary] = []
    complete = True
    if len(text) >= 3:
        result = await store.search_bodies(
            db,
            text,
            since,
            source=source,
            event_type_like=like,
            limit=RESULTS,
            timeout_ms=BODY_SEARCH_MS,
        )
        complete = result.complete
        seen = {e.id for e in found}
        in_body = await _not_only_masked(
            request, text, [e for e in result.events if e.id not in seen]
        )
    return page(
        request,
        "search.html",
        q=text,
        source=source or "",
        event_type=event_type or "",
        hours=hours,
        windows=WINDOWS,
        found=found,
        in_body=in_body,
        body_searched=len(text) >= 3,
        complete=complete,
        limit=RESULTS,
    )


async def _not_only_masked(
    request: web.Request, needle: str, events: list[EventSummary]
) -> list[EventSummary]:
    """Leave out events where the text is found only in what privacy rules mask: the
    search must not tell whether a masked value (an email, say) is in a body."""
    privacy = request.config_dict[CONSOLE].api.config.privacy
    ruled = [e.id for e in events if privacy.rules_for(e.source)]
    if not ruled:
        return events
    bodies = await store.event_bodies(request.config_dict[CONSOLE].api.db, ruled)
    hidden = {
        event_id
        for event_id, (source, body) in bodies.items()
        if needle.encode() not in redact_body(body, privacy.rules_for(source))
    }
    return [e for e in events if e.id not in hidden]


@needs("read")
async def event_detail(request: web.Request) -> web.Response:
    state = request.config_dict[CONSOLE].api
    event_id = request.match_info["id"]
    try:
        event = await events_store.get_event(state.db, event_id)
    except NotFound:
        raise Problem(404, f"No event {event_id}.") from None
    body = redact_body(event.body, state.config.privacy.rules_for(event.source))
    kind, text = pretty_body(body)
    cut = len(text) > BODY_SHOWN
    deliveries = await deliveries_store.list_deliveries(state.db, event_id=event.id, limit=1000)
    attempts = await store.event_attempts(state.db, event.id)
    headers = await shown_headers(state.db, event)
    rules = state.config.privacy.rules_for(event.source)
    return page(
        request,
        "event.html",
        event=event,
        size=len(event.body),
        headers=sorted(headers.items()),
        not_routed=await not_routed(state.db, event, rules, headers),
        body_kind=kind,
        body=text[:BODY_SHOWN],
        body_cut=cut,
        deliveries=deliveries,
        attempts=attempts,
        refresh=any(d.status in UNFINISHED for d in deliveries),
    )


ROUTES = [
    ("GET", "/", overview),
    ("GET", "/events", search),
    ("GET", "/events/{id:[A-Za-z0-9_]+}", event_detail),
]
