"""``/healthz`` (the process answers), ``/readyz`` (it can do its job), ``/metrics``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.observability import Metrics
from gateway.problems import Problem
from gateway.store import StoreError
from gateway.store.database import Database

__all__ = ["HEALTH", "HealthState", "add_health_routes", "add_probe_routes"]


@dataclasses.dataclass(slots=True)
class HealthState:
    db: Database
    metrics: Metrics
    head_revision: str
    components: dict[str, Callable[[], bool]]


HEALTH = web.AppKey("health", HealthState)


async def healthz(_: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    state = request.app[HEALTH]
    failing: list[str] = []
    try:
        revision = await state.db.fetchval("current_revision")
        if revision != state.head_revision:
            failing.append(f"migrations: at {revision}, head is {state.head_revision}")
    except StoreError:
        failing.append("database: unreachable")
    failing += [f"{name}: not running" for name, ok in state.components.items() if not ok()]
    if failing:
        raise Problem(503, "; ".join(failing), kind="not-ready", checks=failing)
    return web.Response(body=orjson.dumps({"status": "ready"}), content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    state = request.app[HEALTH]
    state.metrics.db_pool_in_use.set(state.db.in_use)
    body = generate_latest(state.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)


def add_probe_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
