"""Sending again and giving up: retry, discard, replay (one event, or a source's range).

Every change here keeps the ordered-delivery rules (store/ordering.py): a delivery that
had finished and comes back with an ordering key joins the back of its key's queue; one
that is discarded leaves it, letting the next one through.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.store import ordering
from gateway.store.database import Connection, Database
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import DeliveryFilter
from gateway.store.sql import QUERIES

__all__ = [
    "count_dead_letters",
    "count_source_events",
    "discard",
    "replay_event",
    "replay_source_page",
    "retry",
    "retry_dead_letters",
]


async def _reserve(conn: Connection, n: int) -> list[int]:
    """``n`` ascending positions in receipt order, for deliveries sent again."""
    if n == 0:
        return []
    return [r["seq"] for r in await conn.fetch(QUERIES["reserve_delivery_seqs"], n)]


async def _send_again(
    conn: Connection,
    existing: Sequence[tuple[str, int]],
    new: Sequence[tuple[str, str, int]] = (),
) -> list[str]:
    """Existing (delivery, position) go again if finished; new (event, subscriber, position)
    are created. Locks in the store's order: deliveries, then their ordering keys.

    Returns the ids of the deliveries that will be sent.
    """
    ids = [d for d, _ in existing]
    await conn.execute(QUERIES["lock_deliveries"], ids)
    rows = await conn.fetch(QUERIES["requeue_deliveries"], ids, [seq for _, seq in existing])
    rows += await conn.fetch(
        QUERIES["insert_replays"],
        [e for e, _, _ in new],
        [sub for _, sub, _ in new],
        [seq for _, _, seq in new],
    )
    counts = ordering.count_keys(r for r in rows if r["status"] == "queued")
    await ordering.add(conn, counts)
    await ordering.promote(conn, counts)
    return [r["id"] for r in rows]


async def retry(db: Database, delivery_id: str) -> None:
    """Send a finished delivery again, with a fresh set of attempts, and wake a dispatcher."""
    async with db.transaction() as conn:
        [seq] = await _reserve(conn, 1)
        retried = await _send_again(conn, [(delivery_id, seq)])
        if retried:
            await conn.execute(QUERIES["notify_deliveries"])
    if not retried:
        await _exists(db, delivery_id)
        raise Conflict("only a dead, succeeded or cancelled delivery can be retried")


async def discard(db: Database, delivery_id: str) -> None:
    """Give up a dead letter (or a delivery not yet sent): it becomes ``cancelled``."""
    async with db.transaction() as conn:
        await conn.execute(QUERIES["lock_deliveries"], [delivery_id])
        rows = await conn.fetch(QUERIES["discard_deliveries"], [delivery_id])
        promoted = await ordering.take(conn, ordering.count_keys(rows))
        if promoted:
            await conn.execute(QUERIES["notify_deliveries"])
    if not rows:
        await _exists(db, delivery_id)
        raise Conflict("only a dead, pending or queued delivery can be discarded")


async def _exists(db: Database, delivery_id: str) -> None:
    if await db.fetchrow("get_delivery", delivery_id) is None:
        raise NotFound(f"no delivery {delivery_id}")


async def replay_event(db: Database, event_id: str, subscriber_id: str | None = None) -> list[str]:
    """Send an event again: to one subscriber, or to every subscriber it had or now matches.

    Finished deliveries go again; missing ones are created (a subscriber named here gets
    the event whatever its filters say). Pending and in-flight ones are left alone.
    Returns the ids of the deliveries that will be sent.
    """
    if await db.fetchrow("get_event", event_id) is None:
        raise NotFound(f"no event {event_id}")
    async with db.transaction() as conn:
        if subscriber_id is not None:
            existing = await conn.fetchval(QUERIES["delivery_for_event"], event_id, subscriber_id)
            pairs = [(existing, subscriber_id)]
        else:
            rows = await conn.fetch(QUERIES["event_deliveries"], event_id)
            pairs = sorted(
                ((r["delivery_id"], r["subscriber_id"]) for r in rows), key=lambda p: p[1]
            )
        seqs = await _reserve(conn, len(pairs))
        ids = await _send_again(
            conn,
            [(d, seq) for (d, _), seq in zip(pairs, seqs, strict=True) if d is not None],
            [(event_id, s, seq) for (d, s), seq in zip(pairs, seqs, strict=True) if d is None],
        )
        if ids:
            await conn.execute(QUERIES["notify_deliveries"])
    return ids


def _filter_args(f: DeliveryFilter) -> tuple[object, ...]:
    return (f.subscriber_id, f.source, f.event_type_like, f.since, f.until)


async def count_dead_letters(db: Database, f: DeliveryFilter) -> int:
    return int(await db.fetchval("count_dead_letters", *_filter_args(f)))


async def retry_dead_letters(
    db: Database, f: DeliveryFilter, after: str, limit: int
) -> tuple[str | None, int]:
    """One batch of a bulk retry, in id order after ``after``: (last id looked at, retried)."""
    async with db.transaction() as conn:
        row = await conn.fetchrow(QUERIES["retry_dead_letters"], *_filter_args(f), after, limit)
        assert row is not None
        if row["retried"]:
            await conn.execute(QUERIES["notify_deliveries"])
    return row["last_id"], int(row["retried"])


async def count_source_events(
    db: Database, source: str, since: datetime | None, until: datetime | None
) -> int:
    return int(await db.fetchval("count_source_events", source, since, until))


async def replay_source_page(
    db: Database,
    source: str,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int],
    subscriber_id: str,
    limit: int,
) -> tuple[tuple[datetime, int] | None, int]:
    """Replay one page of a source's events, in receipt order, to one subscriber.

    Returns where the next page starts (``None`` when done) and how many were looked at.
    """
    rows = await db.fetch("source_events_page", source, since, until, *after, limit)
    if not rows:
        return None, 0
    ids = [r["id"] for r in rows]
    async with db.transaction() as conn:
        seqs = dict(zip(ids, await _reserve(conn, len(ids)), strict=True))
        had = {
            r["event_id"]: r["id"]
            for r in await conn.fetch(QUERIES["deliveries_of_events"], ids, subscriber_id)
        }
        await _send_again(
            conn,
            [(had[e], seqs[e]) for e in ids if e in had],
            [(e, subscriber_id, seqs[e]) for e in ids if e not in had],
        )
        await conn.execute(QUERIES["notify_deliveries"])
    last = rows[-1]
    return (last["received_at"], last["seq"]), len(rows)
