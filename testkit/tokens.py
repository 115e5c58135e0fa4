"""Tokens for the admin API, minted the way ``webhook-gateway token create`` mints them."""

from __future__ import annotations

from typing import Any

from gateway.api.auth import mint_token
from gateway.config import ApiConfig

JWT_SECRET = "test-jwt-secret-" + "x" * 56  # 72 bytes: enough for HS512 as well
"""The HS256 key of every gateway the kit configures, in process or in a subprocess."""


def mint(
    *scopes: str,
    ttl: int = 600,
    subject: str = "cli",
    secret: str = JWT_SECRET,
    **api: Any,
) -> str:
    """A token with ``scopes`` (admin when none), valid ``ttl`` seconds, signed with
    ``secret`` for an ``[api]`` section of ``api`` (issuer, audience …)."""
    config = ApiConfig(jwt_secret=secret, **api)
    return mint_token(config, secret, scopes or ("admin",), ttl, subject)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}
