"""Dead letters: filter, select, retry or discard; retry everything matching as a job
whose progress the job page follows (the API's jobs mechanism, run by any worker)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import MultiMapping

from gateway.console.access import CONSOLE, needs
from gateway.console.render import page
from gateway.domain.event_types import glob_to_like
from gateway.http.problems import Problem
from gateway.store import Conflict, NotFound, jobs, replay
from gateway.store import deliveries as deliveries_store
from gateway.store import subscribers as subscribers_store
from gateway.store.records import DeliveryFilter

__all__ = ["ROUTES"]

PAGE = 50
MAX_SELECTED = 500
FILTER_FIELDS = ("subscriber_id", "source", "type")
NOTICES = ("retried", "discarded", "skipped")


def _filter_values(values: MultiMapping[Any]) -> dict[str, str]:
    found = {name: values.get(name) for name in FILTER_FIELDS}
    text = {k: v.replace("\x00", "").strip()[:200] for k, v in found.items() if isinstance(v, str)}
    return {k: v for k, v in text.items() if v}


def _filter(values: dict[str, str]) -> DeliveryFilter:
    event_type = values.get("type")
    return DeliveryFilter(
        status="dead",
        subscriber_id=values.get("subscriber_id"),
        source=values.get("source"),
        event_type_like=glob_to_like(event_type) if event_type else None,
    )


@needs("read")
async def dead_letters(request: web.Request) -> web.Response:
    db = request.config_dict[CONSOLE].api.db
    values = _filter_values(request.query)
    where = _filter(values)
    after = request.query.get("after", "").replace("\x00", "") or None
    rows = await deliveries_store.list_deliveries(db, after=after, limit=PAGE + 1, where=where)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    notices = {n: request.query[n] for n in NOTICES if request.query.get(n, "").isdigit()}
    return page(
        request,
        "dead_letters.html",
        filters=values,
        deliveries=rows,
        total=await replay.count_dead_letters(db, where),
        next_page=urlencode({**values, "after": rows[-1].id}) if more else None,
        subscribers=await subscribers_store.list_subscribers(db, after=None, limit=1000),
        jobs=await jobs.list_jobs(db, before=None, limit=5),
        notices=notices,
    )


@needs("replay")
async def act(request: web.Request) -> web.StreamResponse:
    """Retry or discard the selected deliveries, each on its own; a delivery no longer in
    a state that allows it (already retried by someone else, say) is skipped."""
    form = await request.post()
    action = form.get("action")
    if action not in ("retry", "discard"):
        raise Problem(400, "Choose retry or discard.")
    ids = [i for i in form.getall("id", []) if isinstance(i, str) and "\x00" not in i]
    ids = ids[:MAX_SELECTED]
    operation = deliveries_store.retry if action == "retry" else deliveries_store.discard
    done = skipped = 0
    db = request.config_dict[CONSOLE].api.db
    for delivery_id in ids:
        try:
            await operation(db, delivery_id)
            done += 1
        except (Conflict, NotFound):
            skipped += 1
    event_id = form.get("event_id")
    if isinstance(event_id, str) and event_id:
        raise web.HTTPSeeOther(f"/console/events/{quote(event_id, safe='')}")
    counts = {"retried" if action == "retry" else "discarded": done, "skipped": skipped}
    query = urlencode({**_filter_values(form), **counts})
    raise web.HTTPSeeOther(f"/console/dead-letters?{query}")


@needs("replay")
async def retry_all(request: web.Request) -> web.StreamResponse:
    """Every dead letter matching the filter, retried by a background job."""
    db = request.config_dict[CONSOLE].api.db
    values = _filter_values(await request.post())
    where = _filter(values)
    params = {
        "subscriber_id": where.subscriber_id,
        "source": where.source,
        "event_type": values.get("type"),
        "event_type_like": where.event_type_like,
        "since": None,
        "until": None,
    }
    total = await replay.count_dead_letters(db, where)
    job = await jobs.create(db, "retry_dead", params, total)
    raise web.HTTPSeeOther(f"/console/jobs/{job.id}")


@needs("read")
async def job(request: web.Request) -> web.Response:
    job_id = request.match_info["id"]
    try:
        found = await jobs.get(request.config_dict[CONSOLE].api.db, job_id)
    except NotFound:
        raise Problem(404, f"No job {job_id}.") from None
    return page(request, "job.html", job=found, refresh=found.state in ("queued", "running"))


ROUTES = [
    ("GET", "/dead-letters", dead_letters),
    ("POST", "/dead-letters/act", act),
    ("POST", "/dead-letters/retry-all", retry_all),
    ("GET", "/jobs/{id:[A-Za-z0-9_]+}", job),
]
