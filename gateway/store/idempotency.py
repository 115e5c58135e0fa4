"""Idempotency keys of the admin API: the first request's answer, kept for replays."""

from __future__ import annotations

import dataclasses

from gateway.store.database import Database

__all__ = ["Claim", "StoredAnswer", "claim", "complete", "release"]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredAnswer:
    method: str
    path: str
    request_hash: str
    status: int | None  # None while the first request is still running
    content_type: str | None
    body: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """Either this request owns the key (``owned``), or an earlier one does (``earlier``)."""

    owned: bool
    earlier: StoredAnswer | None = None


async def claim(
    db: Database,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    ttl_seconds: float,
) -> Claim:
    """Take the key for this request, or return what the earlier request left."""
    for _ in range(2):
        if await db.fetchval("claim_idempotency_key", principal, key, method, path, request_hash):
            return Claim(owned=True)
        row = await db.fetchrow("get_idempotency_key", principal, key, ttl_seconds)
        if row is None:
            continue  # released meanwhile: try to take it again
        if row["expired"]:
            await db.fetchval("delete_expired_idempotency_key", principal, key, ttl_seconds)
            continue
        fields = {f.name for f in dataclasses.fields(StoredAnswer)}
        return Claim(owned=False, earlier=StoredAnswer(**{k: row[k] for k in fields}))
    return Claim(owned=False)


async def complete(
    db: Database, principal: str, key: str, status: int, content_type: str | None, body: bytes
) -> None:
    await db.fetchval("complete_idempotency_key", principal, key, status, content_type, body)


async def release(db: Database, principal: str, key: str) -> None:
    """Forget a key whose request failed unexpectedly, so that a retry can run."""
    await db.fetchval("release_idempotency_key", principal, key)
