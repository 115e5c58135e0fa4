"""Subscribers: create, read, update, delete."""

from __future__ import annotations

from gateway.ids import new_id
from gateway.store.database import Database
from gateway.store.errors import NotFound
from gateway.store.records import Subscriber, SubscriberSpec, SubscriberState

__all__ = [
    "create_subscriber",
    "delete_subscriber",
    "get_subscriber",
    "list_subscribers",
    "update_subscriber",
]


def _spec_args(spec: SubscriberSpec, likes: list[str]) -> tuple[object, ...]:
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
    )


async def create_subscriber(
    db: Database, spec: SubscriberSpec, *, secret: str, likes: list[str], managed_by: str = "api"
) -> Subscriber:
    """Insert a subscriber; ``likes`` are the event-type globs as SQL LIKE patterns."""
    args = _spec_args(spec, likes)
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
        "update_subscriber", subscriber_id, *_spec_args(spec, likes), state, state_reason
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
