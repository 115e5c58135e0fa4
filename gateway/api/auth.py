"""Bearer JWT authentication and scope checks for the admin API."""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

import jwt
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.revocation import MAX_JTI_LENGTH, RevokedTokens
from gateway.config import ApiConfig, Config
from gateway.http.problems import Problem

__all__ = [
    "PRINCIPAL",
    "SCOPES",
    "Authenticator",
    "auth_middleware",
    "jwt_secret",
    "mint_token",
    "required_scope",
    "revocation_target",
    "signing_key",
    "unverified_claims",
]

SCOPES = ("read", "write", "replay", "admin")
TIME_CLAIMS = ("exp", "iat", "nbf")
SCOPE_KEY = "required_scope"
PRINCIPAL = web.RequestKey("principal", str)  # the subject of the token


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


def signing_key(config: Config) -> str:
    """What ``token create`` signs with: the shared secret, or the private key (PEM)."""
    if config.api.symmetric:
        return jwt_secret(config)
    if config.api.jwt_private_key_file is None:
        raise ValueError(
            f"api.jwt_private_key_file is needed to mint {config.api.jwt_algorithm} tokens"
        )
    return Path(config.api.jwt_private_key_file).read_text()


def mint_token(
    api: ApiConfig, key: str, scopes: Iterable[str], ttl_seconds: int, subject: str = "cli"
) -> str:
    """A signed token for ``subject`` with its own random ``jti`` (128 bits, in hex: never
    beginning with ``-``, which a command line would read as an option), so it can be
    revoked on its own."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_hex(16),
    }
    if api.jwt_issuer:
        claims["iss"] = api.jwt_issuer
    if api.jwt_audience:
        claims["aud"] = api.jwt_audience
    return jwt.encode(claims, key, algorithm=api.jwt_algorithm)


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of ``token`` as it says them, its signature unchecked: only for reading
    what a token one holds is (its ``jti`` and ``exp``), never for trusting it."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def revocation_target(text: str) -> tuple[str, datetime | None]:
    """The ``jti`` to revoke and when its token expires, from a whole token (read, not
    verified) or a bare ``jti`` (expiry unknown); ``ValueError`` says what is wrong."""
    text = text.strip()
    if text.count(".") == 2:
        try:
            claims = unverified_claims(text)
        except jwt.PyJWTError:
            raise ValueError("this looks like a token, but it cannot be read") from None
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise ValueError("the token has no jti, so it cannot be revoked")
        exp = claims.get("exp")
        try:
            expires = datetime.fromtimestamp(exp, UTC) if _is_number(exp) else None
        except (OverflowError, OSError, ValueError):
            expires = None
        text = jti
    else:
        expires = None
    if not 1 <= len(text) <= MAX_JTI_LENGTH:
        raise ValueError(f"a jti has 1 to {MAX_JTI_LENGTH} characters")
    return text, expires


def _invalid(detail: str = "the token is invalid or expired") -> Problem:
    return Problem(
        401,
        detail,
        kind="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _is_number(value: object) -> TypeGuard[float]:
    """A JSON number: PyJWT also takes ``"9999999999"`` and ``true`` for a time."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Authenticator:
    """Verifies tokens with the one algorithm the config names (no ``alg`` confusion).

    ``exp`` is required; ``exp``, ``iat`` and ``nbf`` must be numbers; ``iss`` and ``aud``
    are checked when configured. With a JWKS the key is the one whose ``kid`` the token
    names. A token whose ``jti`` is revoked is refused; one without a ``jti`` only when
    ``api.require_jti`` says so (by default with HS*, where every token is the gateway's).
    """

    def __init__(self, api: ApiConfig, revoked: RevokedTokens, secret: str | None = None) -> None:
        self.api = api
        self.revoked = revoked
        self._key: Any = secret
        self._jwks: jwt.PyJWKSet | None = None
        if not api.symmetric:
            if api.jwt_jwks_file is not None:
                self._jwks = jwt.PyJWKSet.from_json(Path(api.jwt_jwks_file).read_text())
            elif api.jwt_public_key_file is not None:
                self._key = Path(api.jwt_public_key_file).read_text()
        if self._key is None and self._jwks is None:
            raise ValueError("no key to verify tokens with")

    @classmethod
    def from_config(cls, config: Config, revoked: RevokedTokens) -> Authenticator:
        return cls(config.api, revoked, jwt_secret(config) if config.api.symmetric else None)

    def authenticate(self, authorization: str | None) -> tuple[str, set[str]]:
        """The token's subject and scopes; a 401 problem for anything but a valid token."""
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
                self._verification_key(token),
                algorithms=[self.api.jwt_algorithm],
                issuer=self.api.jwt_issuer,
                audience=self.api.jwt_audience,
                leeway=self.api.jwt_leeway_seconds,
                options={"require": ["exp"], "verify_aud": self.api.jwt_audience is not None},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise _invalid() from None
        self._check(claims)
        scope = claims.get("scope", "")
        scopes = set(scope.split()) if isinstance(scope, str) else set()
        return str(claims.get("sub", "")), scopes

    def _check(self, claims: dict[str, Any]) -> None:
        """What PyJWT leaves open: the times' types, and the ``jti`` and its revocation."""
        if not all(_is_number(claims[name]) for name in TIME_CLAIMS if name in claims):
            raise _invalid("the token's exp, iat and nbf must be numbers")
        jti = claims.get("jti")
        if not jti:
            if self.api.jti_required:
                raise _invalid("the token has no jti, so it could not be revoked: mint a new one")
            return
        if len(jti) > MAX_JTI_LENGTH:
            raise _invalid(f"the token's jti is longer than {MAX_JTI_LENGTH} characters")
        if self.revoked.is_revoked(jti):
            raise _invalid("the token has been revoked")

    def _verification_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._jwks.keys:
            if key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError("no key with that kid")


def required_scope(scope: str) -> Callable[[Any], Any]:
    """Mark a handler with the scope it needs (``admin`` grants every scope)."""

    def mark(handler: Any) -> Any:
        setattr(handler, SCOPE_KEY, scope)
        return handler

    return mark


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    needed = getattr(handler, SCOPE_KEY, None)
    if needed is None:
        return await handler(request)
    subject, granted = request.app[AUTHENTICATOR].authenticate(request.headers.get("Authorization"))
    request[PRINCIPAL] = subject
    if needed not in granted and "admin" not in granted:
        raise Problem(403, f"this needs the {needed!r} scope", kind="forbidden")
    return await handler(request)
