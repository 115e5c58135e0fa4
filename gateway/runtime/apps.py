"""The two aiohttp applications: the public ingress and the internal admin listener."""

from __future__ import annotations

from aiohttp import web

from gateway.api.auth import Authenticator, auth_middleware
from gateway.api.health import HEALTH, HealthState, add_health_routes, add_probe_routes
from gateway.api.idempotency import idempotency_middleware
from gateway.api.payloads import PayloadState, add_payload_routes
from gateway.api.routes import API_PREFIX, add_api
from gateway.api.state import ApiState
from gateway.api.storeerrors import store_error_middleware
from gateway.console import add_console
from gateway.http.closing import close_unread_body
from gateway.http.problems import problem_middleware
from gateway.http.requestlog import request_log
from gateway.ingress.intake import Intake
from gateway.ingress.routes import INGRESS
from gateway.ingress.routes import add_routes as add_ingress_routes
from gateway.ingress.serverheader import drop_server_header

__all__ = ["API_PREFIX", "build_admin_app", "build_ingress_app"]


def build_ingress_app(intake: Intake, payloads: PayloadState | None = None) -> web.Application:
    """Webhooks and ``/healthz`` (and thin payloads' signed links); nothing else is
    reachable from the internet.

    A request refused before its body was read is answered, then its connection closed.
    No answer names the server's software (ingress/serverheader.py).
    """
    app = web.Application(
        middlewares=[request_log, close_unread_body, problem_middleware],
        client_max_size=intake.config.max_body_bytes,
    )
    app[INGRESS] = intake
    app.on_response_prepare.append(drop_server_header)
    add_ingress_routes(app)
    add_health_routes(app)
    if payloads is not None:
        add_payload_routes(app, payloads)
    return app


def build_admin_app(
    health: HealthState, api: ApiState | None, authenticator: Authenticator | None
) -> web.Application:
    """Probes and metrics; the REST API and the console too when this process serves it."""
    app = web.Application(
        middlewares=[
            problem_middleware,
            store_error_middleware,
            auth_middleware,
            idempotency_middleware,
        ]
    )
    app[HEALTH] = health
    add_probe_routes(app)
    if api is not None and authenticator is not None:
        add_api(app, api, authenticator)
        add_console(app, api, authenticator)
    return app
