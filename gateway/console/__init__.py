"""The operator console at ``/console`` on the admin listener: server-rendered pages over
the store, a session from a pasted API token, CSRF on every form, a strict CSP.

Pages: overview, search, event detail with its delivery timeline, subscriber detail,
sources (how each takes its events), dead letters, job progress. Templates and static
files ship inside the package.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.api.auth import Authenticator
from gateway.api.state import ApiState
from gateway.console import dead_letters, login, sources_page, subscriber_page, views
from gateway.console.access import CONSOLE, ConsoleState, console_middleware
from gateway.console.render import setup_templates
from gateway.console.session import SessionKeys

__all__ = ["CONSOLE_PREFIX", "add_console"]

CONSOLE_PREFIX = "/console"
STATIC_DIR = Path(__file__).parent / "static"


async def _to_home(_: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(f"{CONSOLE_PREFIX}/")


def add_console(app: web.Application, api: ApiState, authenticator: Authenticator) -> None:
    """Mount the console under ``/console`` of ``app`` (the admin listener)."""
    console = web.Application(middlewares=[console_middleware])
    console[CONSOLE] = ConsoleState(api, authenticator, SessionKeys.from_config(api.config))
    setup_templates(console)
    for method, path, handler in [
        *views.ROUTES,
        *login.ROUTES,
        *subscriber_page.ROUTES,
        *dead_letters.ROUTES,
        *sources_page.ROUTES,
    ]:
        console.router.add_route(method, path, handler)
    console.router.add_static("/static", STATIC_DIR, name="static")
    app.router.add_get(CONSOLE_PREFIX, _to_home)
    app.add_subapp(CONSOLE_PREFIX, console)
