"""Every console request passes here: session, CSRF check on POST, scope check, error
pages, and the security headers (strict CSP, no framing) on every answer.

A handler says what it needs with :func:`needs`; one without a mark is public (the login
page, static files). A POST must carry the CSRF token of the session's nonce, logged in
or not (the login form too), else 403. A missing scope is 403 whatever the method; a
GET without a session is sent to the login page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.auth import Authenticator
from gateway.api.state import ApiState
from gateway.console.session import Session, SessionKeys, anonymous, read_session, set_cookie
from gateway.http.problems import Problem
from gateway.store import StoreUnavailable

__all__ = [
    "CONSOLE",
    "NEW_SESSION",
    "SESSION",
    "ConsoleState",
    "console_middleware",
    "needs",
]

SCOPE_ATTR = "console_scope"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclasses.dataclass(slots=True)
class ConsoleState:
    api: ApiState
    auth: Authenticator
    keys: SessionKeys


CONSOLE = web.AppKey("console", ConsoleState)
SESSION = web.RequestKey("console_session", Session)
NEW_SESSION = web.RequestKey("console_new_session", Session)  # set by login and logout
ErrorPage = Callable[[web.Request, int, str], web.StreamResponse]
ERROR_PAGE: web.AppKey[ErrorPage] = web.AppKey("console_error_page")


def needs(scope: str) -> Callable[[Any], Any]:
    """Mark a console handler with the scope it needs (``admin`` grants every scope)."""

    def mark(handler: Any) -> Any:
        setattr(handler, SCOPE_ATTR, scope)
        return handler

    return mark


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as exc:
        if exc.status < 400:
            _finish(request, exc)
            raise
        response = request.config_dict[ERROR_PAGE](request, exc.status, exc.reason)
    except Problem as problem:
        response = request.config_dict[ERROR_PAGE](request, problem.status, problem.detail)
    except StoreUnavailable:
        message = "The database cannot be reached just now; try again in a moment."
        response = request.config_dict[ERROR_PAGE](request, 503, message)
    _finish(request, response)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    if isinstance(request.match_info.route.resource, web.StaticResource):
        return await handler(request)
    state = request.config_dict[CONSOLE]
    session = read_session(request, state.keys, state.auth)
    if session is None:
        session = anonymous()
        request[NEW_SESSION] = session
    request[SESSION] = session
    if request.method == "POST":
        form = await request.post()
        csrf = form.get("csrf")
        if not state.keys.check_csrf(session, csrf if isinstance(csrf, str) else None):
            raise Problem(403, "This form has expired or did not come from this console.")
    scope = getattr(handler, SCOPE_ATTR, None)
    if scope is not None and not session.logged_in and request.method == "GET":
        raise web.HTTPSeeOther("/console/login?" + urlencode({"next": request.path_qs}))
    if scope is not None and not session.can(scope):
        raise Problem(403, f"This needs a token with the {scope!r} scope.")
    return await handler(request)


def _finish(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    new = request.get(NEW_SESSION)
    if new is not None:
        set_cookie(response, request, request.config_dict[CONSOLE].keys, new)
