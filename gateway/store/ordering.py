"""Ordered delivery: one head per (subscriber, ordering key), the rest queued behind it.

For a subscriber with ``ordered = true``, a delivery whose event has an ordering key is
*pending* (claimable) only while it is the oldest unfinished delivery of its key: its
*head*. The others wait as *queued*, outside the claim's index. A head that succeeds (or
is discarded) lets the next queued one become pending; a head that dies stays the head,
and blocks its key, until it is retried or discarded.

``ordering_keys`` counts each key's unfinished deliveries (queued, pending, in flight,
dead). The fan-out's upsert on that row is what makes "is anything ahead of me?" safe
across concurrent writers and settlers: whoever holds the row's lock sees the count the
previous holder left. Promotion (:data:`promote_heads`) runs as a statement of its own
after the rows are locked, so it sees every delivery committed before the lock was
taken. Counts go down only for deliveries that really finished (the ``RETURNING`` of the
statement that finished them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from gateway.store.database import Connection, Database
from gateway.store.sql import QUERIES

__all__ = ["Key", "add", "count_keys", "forget_idle", "promote", "rescue_stranded", "take"]

Key = tuple[str, str]
"""(subscriber id, ordering key)"""


def _columns(counts: Mapping[Key, int]) -> tuple[list[str], list[str], list[int]]:
    keys = sorted(counts)
    return [k[0] for k in keys], [k[1] for k in keys], [counts[k] for k in keys]


async def add(conn: Connection, counts: Mapping[Key, int]) -> None:
    """More unfinished deliveries for these keys (inserted or requeued as ``queued``)."""
    if counts:
        await conn.execute(QUERIES["add_to_ordering_keys"], *_columns(counts))


async def take(conn: Connection, counts: Mapping[Key, int]) -> list[str]:
    """Deliveries of these keys finished; promote the next of each key. Returns promoted ids."""
    if not counts:
        return []
    subscribers, keys, ns = _columns(counts)
    await conn.execute(QUERIES["lock_ordering_keys"], subscribers, keys)
    await conn.execute(QUERIES["take_from_ordering_keys"], subscribers, keys, ns)
    return await promote(conn, counts)


async def promote(conn: Connection, keys: Iterable[Key]) -> list[str]:
    """Make the oldest queued delivery of each key pending where the key has no head."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    rows = await conn.fetch(
        QUERIES["promote_heads"], [k[0] for k in wanted], [k[1] for k in wanted]
    )
    return [r["id"] for r in rows]


def count_keys(rows: Iterable[Mapping[str, object]]) -> Counter[Key]:
    """How many of ``rows`` (with subscriber_id and ordering_key) each key has."""
    return Counter(
        (str(r["subscriber_id"]), str(r["ordering_key"]))
        for r in rows
        if r["ordering_key"] is not None
    )


async def rescue_stranded(db: Database, limit: int = 1000) -> int:
    """Promote the head of any key whose oldest unfinished delivery is queued (a safety net)."""
    rows = await db.fetch("stranded_ordering_keys", limit)
    if not rows:
        return 0
    keys = sorted({(r["subscriber_id"], r["ordering_key"]) for r in rows})
    async with db.transaction() as conn:
        await conn.execute(
            QUERIES["lock_ordering_keys"], [k[0] for k in keys], [k[1] for k in keys]
        )
        promoted = await promote(conn, keys)
        if promoted:
            await conn.execute(QUERIES["notify_deliveries"])
    return len(promoted)


async def forget_idle(db: Database, limit: int = 1000) -> int:
    """Delete the rows of keys with nothing unfinished."""
    async with db.transaction() as conn:
        result: str = await conn.execute(QUERIES["forget_ordering_keys"], limit)
    return int(result.split()[-1])
