"""Revoked API tokens, by ``jti``: written by the CLI and the API, read by every replica."""

from __future__ import annotations

from datetime import datetime

from gateway.store.database import Database
from gateway.store.records import RevokedToken

__all__ = ["KEPT_AFTER_EXPIRY_SECONDS", "kept_seconds", "list_revoked", "revoke", "revoked_jtis"]

KEPT_AFTER_EXPIRY_SECONDS = 3600.0
"""A revocation outlives its token's expiry (plus the leeway tokens get) by this much, so
a replica whose clock is a little behind the database's never meets a token it still
takes for unexpired whose revocation is already gone."""


def kept_seconds(leeway_seconds: float) -> float:
    """How long past its token's expiry a revocation is kept (and still enforced)."""
    return max(leeway_seconds, 0.0) + KEPT_AFTER_EXPIRY_SECONDS


async def revoke(
    db: Database, jti: str, expires_at: datetime | None, reason: str | None, revoked_by: str
) -> RevokedToken:
    """Revoke the token ``jti`` (again: the first revocation stands, kept the longer)."""
    row = await db.fetchrow("revoke_token", jti, expires_at, reason, revoked_by)
    assert row is not None
    result: RevokedToken = RevokedToken.from_row(row)
    return result


async def revoked_jtis(db: Database, leeway_seconds: float) -> frozenset[str]:
    """Every revoked ``jti`` whose token may still be presented."""
    rows = await db.fetch("revoked_jtis", kept_seconds(leeway_seconds))
    return frozenset(r["jti"] for r in rows)


async def list_revoked(
    db: Database, leeway_seconds: float, *, after: str | None, limit: int
) -> list[RevokedToken]:
    """Revocations in force, newest first; ``after``: the last ``jti`` of the page before."""
    rows = await db.fetch("list_revoked_tokens", kept_seconds(leeway_seconds), after, limit)
    result: list[RevokedToken] = RevokedToken.from_rows(rows)
    return result
