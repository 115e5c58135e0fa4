"""Subscribers: create, read, update, delete; pause, resume; rotate the signing secret."""

from __future__ import annotations

from datetime import datetime

from gateway.domain.ids import new_id
from gateway.store import flow
from gateway.store.database import Database
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Subscriber, SubscriberSpec, SubscriberState
from gateway.store.sql import QUERIES

__all__ = [
    "create_subscriber",
    "delete_subscriber",
    "get_subscriber",
    "list_subscribers",
    "pause",
    "resume",
    "rotate_secret",
    "update_subscriber",
]


def spec_args(spec: SubscriberSpec, likes: list[str]) -> tuple[object, ...]:
    """The query arguments of a subscriber, in the column order of its insert and update."""
    return (
        spec.name,
        spec.url,
        spec.description,
        list(spec.sources),
        list(spec.event_types),
        likes,
        dict(spec.headers),
        spec.timeout_seconds,
        spec.max_attempts,
        spec.backoff_base_seconds,
        spec.backoff_cap_seconds,
        spec.max_in_flight,
        spec.rate_limit_per_second,
        spec.ordered,
        spec.https_only,
        None if spec.forward_headers is None else list(spec.forward_headers),
        None if spec.retry_schedule is None else list(spec.retry_schedule),
        spec.max_age_seconds,
        spec.rate_limit_burst,
        spec.payload_mode,
        spec.thin_above_bytes,
    )


async def create_subscriber(
    db: Database, spec: SubscriberSpec, *, secret: str, likes: list[str], managed_by: str = "api"
) -> Subscriber:
    """Insert a subscriber; ``likes`` are the event-type globs as SQL LIKE patterns."""
    args = spec_args(spec, likes)
    row = await db.fetchrow(
        "insert_subscriber", new_id("sub"), *args[:3], secret, *args[3:], managed_by
    )
    assert row is not None
    result: Subscriber = Subscriber.from_row(row)
    return result


async def update_subscriber(
    db: Database,
    subscriber_id: str,
    spec: SubscriberSpec,
    *,
    likes: list[str],
    state: SubscriberState,
    state_reason: str | None,
) -> Subscriber:
    row = await db.fetchrow(
        "update_subscriber", subscriber_id, *spec_args(spec, likes), state, state_reason
    )
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    result: Subscriber = Subscriber.from_row(row)
    return result


async def get_subscriber(db: Database, subscriber_id: str) -> Subscriber:
    row = await db.fetchrow("get_subscriber", subscriber_id)
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    result: Subscriber = Subscriber.from_row(row)
    return result


async def list_subscribers(db: Database, *, after: str | None, limit: int) -> list[Subscriber]:
    return [Subscriber.from_row(r) for r in await db.fetch("list_subscribers", after, limit)]


async def delete_subscriber(db: Database, subscriber_id: str) -> None:
    if await db.fetchval("delete_subscriber", subscriber_id) is None:
        raise NotFound(f"no subscriber {subscriber_id}")


async def pause(db: Database, subscriber_id: str, reason: str | None = None) -> Subscriber:
    """Stop sending to an active subscriber; its deliveries wait, pending, until resumed."""
    row = await db.fetchrow(
        "set_subscriber_state", subscriber_id, "paused", ["active", "paused"], reason
    )
    return await _changed(db, subscriber_id, row, "a disabled subscriber is resumed, not paused")


async def resume(db: Database, subscriber_id: str) -> Subscriber:
    """Send again to a paused or disabled subscriber, with a closed circuit."""
    async with db.transaction() as conn:
        await flow.reset(conn, subscriber_id)
        row = await conn.fetchrow(
            QUERIES["set_subscriber_state"],
            subscriber_id,
            "active",
            ["active", "paused", "disabled"],
            None,
        )
        if row is not None:
            await conn.execute(QUERIES["notify_deliveries"])
    return await _changed(db, subscriber_id, row, "")


async def rotate_secret(
    db: Database, subscriber_id: str, secret: str, previous_expires_at: datetime
) -> Subscriber:
    """Sign with ``secret`` from now on, and with the old one too until it expires."""
    row = await db.fetchrow("rotate_secret", subscriber_id, secret, previous_expires_at)
    return await _changed(db, subscriber_id, row, "")


async def _changed(db: Database, subscriber_id: str, row: object, conflict: str) -> Subscriber:
    if row is None:
        await get_subscriber(db, subscriber_id)  # raises NotFound
        raise Conflict(conflict)
    result: Subscriber = Subscriber.from_row(row)  # type: ignore[arg-type]
    return result
