"""The two aiohttp applications: the public ingress and the internal admin listener."""

from __future__ import annotations

from aiohttp import web

from gateway.api import deliveries as deliveries_api
from gateway.api import subscribers as subscribers_api
from gateway.api.auth import AUTHENTICATOR, Authenticator, auth_middleware
from gateway.api.state import API, ApiState
from gateway.health import HEALTH, HealthState, add_health_routes, add_probe_routes
from gateway.ingress.routes import INGRESS, IngressState
from gateway.ingress.routes import add_routes as add_ingress_routes
from gateway.problems import problem_middleware

__all__ = ["API_PREFIX", "build_admin_app", "build_ingress_app"]

API_PREFIX = "/api/v1"


def build_ingress_app(state: IngressState) -> web.Application:
    """Webhooks and ``/healthz``; nothing else is reachable from the internet."""
    app = web.Application(
        middlewares=[problem_middleware], client_max_size=state.config.max_body_bytes
    )
    app[INGRESS] = state
    add_ingress_routes(app)
    add_health_routes(app)
    return app


def build_admin_app(
    health: HealthState, api: ApiState | None, authenticator: Authenticator | None
) -> web.Application:
    """Probes and metrics; the REST API too when this process serves it."""
    app = web.Application(middlewares=[problem_middleware, auth_middleware])
    app[HEALTH] = health
    add_probe_routes(app)
    if api is not None and authenticator is not None:
        app[API] = api
        app[AUTHENTICATOR] = authenticator
        subscribers_api.add_routes(app, API_PREFIX)
        deliveries_api.add_routes(app, API_PREFIX)
    return app
