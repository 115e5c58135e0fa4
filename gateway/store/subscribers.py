"""Subscribers: create, read, update, delete; pause, resume; rotate the signing secret."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

from gateway.domain.event_types import glob_to_like
from gateway.domain.filters import compile_filter
from gateway.domain.ids import new_id
from gateway.domain.subscriber import SubscriberSettings, SubscriberState
from gateway.store import flow
from gateway.store.database import Database
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Subscriber
from gateway.store.sql import QUERIES

__all__ = [
    "STORED",
    "create_subscriber",
    "delete_subscriber",
    "get_subscriber",
    "list_subscribers",
    "pause",
    "resume",
    "rotate_secret",
    "stored_values",
    "update_subscriber",
]


SETTINGS = tuple(f.name for f in msgspec.structs.fields(SubscriberSettings))
STORED = (*SETTINGS, "event_type_likes", "filter_path")
"""The columns a subscriber's settings are stored in: one per setting, in the Struct's
order, then those the store derives from them. ``queries.sql`` lists them in this order."""


def stored_values(settings: SubscriberSettings) -> list[object]:
    """The values of :data:`STORED` for ``settings``, as query arguments.

    ``event_type_likes`` are the ``event_types`` globs as SQL LIKE patterns, and
    ``filter_path`` the ``filter`` compiled to a SQL/JSON path predicate: the fan-out
    matches events against both.
    """
    values: list[object] = [_column(getattr(settings, name)) for name in SETTINGS]
    values.append([glob_to_like(p) for p in settings.event_types])
    values.append(compile_filter(settings.filter))
    return values


def _column(value: object) -> object:
    # asyncpg takes arrays as lists and jsonb (headers, a transform, a destination) as a
    # dict, not as any sequence or Struct; a tagged Struct keeps its tag (``kind``).
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    return value


async def create_subscriber(
    db: Database, settings: SubscriberSettings, *, secret: str, managed_by: str = "api"
) -> Subscriber:
    """Insert a subscriber with ``settings``, signing with ``secret``."""
    row = await db.fetchrow(
        "insert_subscriber", new_id("sub"), secret, managed_by, *stored_values(settings)
    )
    assert row is not None
    result: Subscriber = Subscriber.from_row(row)
    return result


async def update_subscriber(
    db: Database,
    subscriber_id: str,
    settings: SubscriberSettings,
    *,
    state: SubscriberState,
    state_reason: str | None,
) -> Subscriber:
    """Replace a subscriber's settings; its secrets stay."""
    row = await db.fetchrow(
        "update_subscriber", subscriber_id, state, state_reason, *stored_values(settings)
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
