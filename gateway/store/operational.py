"""The state behind the operational events that count over every replica: refused
signatures per source, and which conditions hold (migration 0016)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from gateway.store.database import Database

__all__ = [
    "active_conditions",
    "add_signature_failures",
    "change_condition",
    "change_conditions",
    "signature_failures",
]


async def add_signature_failures(
    db: Database, counts: Mapping[str, int], bucket_seconds: float, keep_seconds: float
) -> None:
    """Add ``counts`` (by source) to the current bucket; forget buckets past ``keep_seconds``."""
    sources = list(counts)
    await db.fetchval(
        "add_signature_failures",
        sources,
        [counts[s] for s in sources],
        bucket_seconds,
        keep_seconds,
    )


async def signature_failures(db: Database, window_seconds: float) -> dict[str, int]:
    """Each source's refused signatures within the last ``window_seconds``, over every replica."""
    rows = await db.fetch("signature_failures_within", window_seconds)
    return {r["source"]: int(r["failures"]) for r in rows}


async def active_conditions(db: Database, kind: str) -> set[str]:
    """The subjects for which condition ``kind`` holds."""
    return {r["subject"] for r in await db.fetch("active_conditions", kind)}


async def change_condition(db: Database, kind: str, subject: str, active: bool) -> datetime | None:
    """Turn the condition on or off; its time when this call changed it, else ``None``
    (it already was, perhaps by another replica a moment ago)."""
    since: datetime | None = await db.fetchval("change_condition", kind, subject, active)
    return since


async def change_conditions(
    db: Database, kind: str, on: Iterable[str], off: Iterable[str]
) -> list[tuple[str, bool, datetime]]:
    """Turn condition ``kind`` on for ``on`` and off for ``off``; (subject, on, since) of
    each change these calls made (see :func:`change_condition`)."""
    changed: list[tuple[str, bool, datetime]] = []
    for subject, active in [*((s, True) for s in on), *((s, False) for s in off)]:
        since = await change_condition(db, kind, subject, active)
        if since is not None:
            changed.append((subject, active, since))
    return changed
