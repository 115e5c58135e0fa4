"""Bearer JWT authentication and scope checks for the admin API."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from gateway.config import ApiConfig, Config
from gateway.problems import Problem

__all__ = [
    "SCOPES",
    "Authenticator",
    "auth_middleware",
    "jwt_secret",
    "mint_token",
    "required_scope",
]

SCOPES = ("read", "write", "replay", "admin")
SCOPE_KEY = "required_scope"


def jwt_secret(config: Config) -> str:
    """The HMAC key: from the config, else a key generated once in the data directory."""
    if config.api.jwt_secret:
        return config.api.jwt_secret
    path = Path(config.database.data_dir) / "jwt-secret"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def mint_token(
    api: ApiConfig, key: str, scopes: Iterable[str], ttl_seconds: int, subject: str = "cli"
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if api.jwt_issuer:
        claims["iss"] = api.jwt_issuer
    if api.jwt_audience:
        claims["aud"] = api.jwt_audience
    return jwt.encode(claims, key, algorithm=api.jwt_algorithm)


class Authenticator:
    """Verifies tokens with the one algorithm the config names (no ``alg`` confusion)."""

    def __init__(self, api: ApiConfig, key: str) -> None:
        self.api = api
        self.key = key

    def scopes(self, authorization: str | None) -> set[str]:
        if not authorization or not authorization.startswith("Bearer "):
            raise Problem(
                401,
                "a bearer token is required",
                kind="unauthenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.api.jwt_algorithm],
                issuer=self.api.jwt_issuer,
                audience=self.api.jwt_audience,
                leeway=self.api.jwt_leeway_seconds,
                options={"require": ["exp"], "verify_aud": self.api.jwt_audience is not None},
            )
        except jwt.PyJWTError:
            raise Problem(
                401,
                "the token is invalid or expired",
                kind="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        scope = claims.get("scope", "")
        return set(scope.split()) if isinstance(scope, str) else set()


def required_scope(scope: str) -> Callable[[Any], Any]:
    """Mark a handler with the scope it needs (``admin`` grants every scope)."""

    def mark(handler: Any) -> Any:
        setattr(handler, SCOPE_KEY, scope)
        return handler

    return mark


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    needed = getattr(handler, SCOPE_KEY, None)
    if needed is None:
        return await handler(request)
    granted = request.app[AUTHENTICATOR].scopes(request.headers.get("Authorization"))
    if needed not in granted and "admin" not in granted:
        raise Problem(403, f"this needs the {needed!r} scope", kind="forbidden")
    return await handler(request)
