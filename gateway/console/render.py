"""Templates: the jinja2 environment (autoescape on, strict undefined), its filters, and
the one way pages are rendered (with the session, its CSRF token, ``no-store``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import jinja2
import orjson
from aiohttp import web
from markupsafe import Markup, escape

from gateway.console.access import CONSOLE, ERROR_PAGE, SESSION
from gateway.domain.privacy import MASK

__all__ = ["page", "pretty_body", "setup_templates"]

STATIC = "/console/static"
_MASKED = escape(orjson.dumps(MASK).decode())
_MARKED = Markup('<mark class="masked">%s</mark>') % _MASKED


def when(value: datetime | None) -> str:
    """A time in UTC, to the second."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def mark_masked(text: str) -> Markup:
    """Escape ``text``, then highlight every value privacy rules replaced."""
    return escape(text).replace(_MASKED, _MARKED)


def pretty_body(body: bytes) -> tuple[str, str]:
    """(kind, text) to show: indented JSON, text, or a note about binary content."""
    try:
        return "json", orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        pass
    try:
        return "text", body.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", f"{len(body)} bytes of binary content (not shown)"


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("gateway.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    env.filters.update(when=when, percent=percent, millis=millis, mark_masked=mark_masked)
    env.globals["static"] = STATIC
    app[ERROR_PAGE] = error_page


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Render ``template`` for this request's session."""
    session = request.get(SESSION)
    keys = request.config_dict[CONSOLE].keys
    base = {
        "session": session,
        "csrf": keys.csrf_token(session) if session is not None else "",
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: web.Request, status: int, message: str) -> web.StreamResponse:
    return page(request, "error.html", status=status, status_code=status, message=message)
