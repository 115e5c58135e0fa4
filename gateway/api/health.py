"""``/healthz`` (the process answers), ``/readyz`` (it can do its job), ``/metrics``.

``/readyz`` also says how this process reads the sources that read a queue. A queue it
cannot reach leaves it ready, reported as degraded (``"degraded"``: which, and why; the
metric ``gateway_source_up`` is 0): readiness decides whether the Service sends this pod
webhooks, and taking it out would stop the webhooks of every other source without
bringing the queue back. Every replica reads the same queues and would fail together,
leaving the Service with no pod at all. The reader keeps trying on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.domain.receive import ReaderStatus
from gateway.http.problems import Problem
from gateway.observability import Metrics
from gateway.store import StoreError, StoreUnavailable
from gateway.store.database import Database

__all__ = ["HEALTH", "HealthState", "add_health_routes", "add_probe_routes"]

DATABASE_CHECK_SECONDS = 2.0
"""The database check gives up after this (a probe's own timeout is a few seconds)."""


@dataclasses.dataclass(slots=True)
class HealthState:
    db: Database
    metrics: Metrics
    head_revision: str
    components: dict[str, Callable[[], bool]]
    # Pools of their own, by name (writer, queue), shown beside the shared one (``db``).
    pools: dict[str, Database] = dataclasses.field(default_factory=dict)
    # How this process reads the sources that read a queue, by name.
    readers: Callable[[], Mapping[str, ReaderStatus]] = dict


HEALTH = web.AppKey("health", HealthState)


async def healthz(_: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    state = request.app[HEALTH]
    failing = await _database_checks(state)
    failing += [f"{name}: not running" for name, ok in state.components.items() if not ok()]
    if failing:
        raise Problem(503, "; ".join(failing), kind="not-ready", checks=failing)
    return web.Response(body=orjson.dumps(_ready(state)), content_type="application/json")


def _ready(state: HealthState) -> dict[str, object]:
    """The ready answer: with the sources this process reads, and those it cannot."""
    readers = state.readers()
    answer: dict[str, object] = {"status": "ready"}
    if readers:
        answer["sources"] = {
            name: {"kind": r.kind, "queue": r.queue, "state": r.state, "error": r.error}
            for name, r in readers.items()
        }
        degraded = [f"{n}: {r.error}" for n, r in readers.items() if r.state == "unreachable"]
        if degraded:
            answer["degraded"] = degraded
    return answer


async def _database_checks(state: HealthState) -> list[str]:
    """The database answers, within a bound, and its schema is at this program's head."""
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            revision = await state.db.fetchval("current_revision")
    except TimeoutError:
        return [f"database: no answer within {DATABASE_CHECK_SECONDS:g}s"]
    except StoreUnavailable:
        return ["database: unreachable"]
    except StoreError as exc:
        return [f"database: {exc}"]
    if revision != state.head_revision:
        return [f"migrations: at {revision}, head is {state.head_revision}"]
    return []


async def metrics(request: web.Request) -> web.Response:
    state = request.app[HEALTH]
    for name, pool in {"shared": state.db, **state.pools}.items():
        state.metrics.db_pool_in_use.labels(name).set(pool.in_use)
        state.metrics.db_pool_size.labels(name).set(pool.pool.get_size())
    body = generate_latest(state.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)


def add_probe_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
