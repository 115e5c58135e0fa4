"""The console's session: the pasted API token in a signed, HttpOnly, SameSite=Strict
cookie that expires with the token, and the CSRF token derived from it.

The cookie holds a random nonce and the token, signed with a key derived from the JWT
key material (HS*: the shared secret, so every replica accepts it; otherwise a key kept
in the data directory). The token itself is verified again on every request, so its
expiry and scopes always hold. The CSRF token is an HMAC of the nonce: a new nonce at
login and logout invalidates every form rendered before.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import time

import jwt
import orjson
from aiohttp import web

from gateway.api.auth import Authenticator, jwt_secret
from gateway.config import Config
from gateway.http.problems import Problem

__all__ = [
    "COOKIE",
    "Session",
    "SessionKeys",
    "anonymous",
    "read_session",
    "set_cookie",
    "token_expiry",
]

COOKIE = "gateway_console"
COOKIE_PATH = "/console"
ANONYMOUS_SECONDS = 3600  # a login form's nonce


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """Who is looking: a nonce always; a subject and scopes once logged in."""

    nonce: str
    token: str | None = None
    expires: int = 0
    subject: str = ""
    scopes: frozenset[str] = frozenset()

    @property
    def logged_in(self) -> bool:
        return self.token is not None

    def can(self, scope: str) -> bool:
        """``admin`` grants every scope, as in the API."""
        return self.logged_in and (scope in self.scopes or "admin" in self.scopes)


class SessionKeys:
    """Signs and checks cookies and CSRF tokens with one server-side key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_config(cls, config: Config) -> SessionKeys:
        try:
            material = jwt_secret(config).encode()
        except OSError:  # asymmetric tokens, no api.jwt_secret, a read-only data directory
            material = secrets.token_bytes(32)  # sessions then end with this process
        return cls(hmac.new(material, b"webhook-gateway console session", hashlib.sha256).digest())

    def _mac(self, purpose: bytes, data: bytes) -> str:
        digest = hmac.new(self._key, purpose + b"\x00" + data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def seal(self, session: Session) -> str:
        payload = orjson.dumps({"n": session.nonce, "t": session.token, "e": session.expires})
        data = base64.urlsafe_b64encode(payload).rstrip(b"=")
        return f"{data.decode()}.{self._mac(b'cookie', data)}"

    def open(self, value: str) -> Session | None:
        """The session a cookie holds, or None when it is forged, damaged or expired."""
        data, _, mac = value.partition(".")
        if not hmac.compare_digest(mac, self._mac(b"cookie", data.encode())):
            return None
        try:
            fields = orjson.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
            session = Session(nonce=str(fields["n"]), token=fields["t"], expires=int(fields["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def csrf_token(self, session: Session) -> str:
        return self._mac(b"csrf", session.nonce.encode())

    def check_csrf(self, session: Session, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(submitted, self.csrf_token(session))


def anonymous() -> Session:
    return Session(nonce=secrets.token_urlsafe(16), expires=int(time.time()) + ANONYMOUS_SECONDS)


def read_session(request: web.Request, keys: SessionKeys, auth: Authenticator) -> Session | None:
    """The session of the request's cookie with the token's scopes checked now; None
    without a cookie or with one that no longer holds (the caller starts a fresh one)."""
    raw = request.cookies.get(COOKIE)
    session = keys.open(raw) if raw else None
    if session is None or session.token is None:
        return session
    try:
        subject, scopes = auth.authenticate(f"Bearer {session.token}")
    except Problem:
        return None  # expired or no longer valid: logged out
    return dataclasses.replace(session, subject=subject, scopes=frozenset(scopes))


def set_cookie(
    response: web.StreamResponse, request: web.Request, keys: SessionKeys, session: Session
) -> None:
    response.set_cookie(
        COOKIE,
        keys.seal(session),
        max_age=max(0, session.expires - int(time.time())),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def token_expiry(token: str) -> int:
    """The ``exp`` of a token already verified (the cookie expires with it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"])
