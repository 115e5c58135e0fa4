"""Log in by pasting an API token; log out. Both change the session's nonce."""

from __future__ import annotations

import secrets

from aiohttp import web

from gateway.console.access import CONSOLE, NEW_SESSION, SESSION
from gateway.console.render import page
from gateway.console.session import Session, anonymous, token_expiry
from gateway.http.problems import Problem

__all__ = ["ROUTES"]

HOME = "/console/"


def _next(raw: object) -> str:
    """Where to go after logging in: a console page, never another site."""
    target = raw if isinstance(raw, str) else ""
    if target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return HOME


async def login_form(request: web.Request) -> web.StreamResponse:
    if request[SESSION].logged_in:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    return page(request, "login.html", next=_next(request.query.get("next")), error=None)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    target = _next(form.get("next"))
    try:
        subject, scopes = request.config_dict[CONSOLE].auth.authenticate(f"Bearer {token}")
    except Problem:
        error = "This token is not valid here, or it has expired."
        return page(request, "login.html", status=401, next=target, error=error)
    if "read" not in scopes and "admin" not in scopes:
        error = "This token has no 'read' scope: the console could show nothing."
        return page(request, "login.html", status=403, next=target, error=error)
    session = Session(
        nonce=secrets.token_urlsafe(16),
        token=token,
        expires=token_expiry(token),
        subject=subject,
        scopes=frozenset(scopes),
    )
    request[NEW_SESSION] = session
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    request[NEW_SESSION] = anonymous()
    raise web.HTTPSeeOther("/console/login")


ROUTES = [
    ("GET", "/login", login_form),
    ("POST", "/login", login),
    ("POST", "/logout", logout),
]
