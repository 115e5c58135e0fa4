"""Make the database agree with the config file: its subscribers and its sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain.ids import new_id
from gateway.store.database import Database
from gateway.store.errors import Conflict
from gateway.store.records import SubscriberSpec
from gateway.store.sql import QUERIES
from gateway.store.subscribers import spec_args

__all__ = ["reconcile_config_sources", "reconcile_subscribers"]


async def reconcile_subscribers(
    db: Database, declared: Sequence[tuple[SubscriberSpec, str, list[str]]]
) -> list[str]:
    """Upsert each (spec, secret, LIKE patterns); disable config subscribers no longer declared.

    Returns the names disabled. Raises :class:`Conflict` when a declared name belongs to a
    subscriber made through the API.
    """
    async with db.transaction() as conn:
        for spec, secret, likes in declared:
            args = spec_args(spec, likes)
            row = await conn.fetchrow(
                QUERIES["upsert_config_subscriber"], new_id("sub"), *args[:3], secret, *args[3:]
            )
            if row is None:
                raise Conflict(f"subscriber {spec.name!r} exists and is managed through the API")
        rows = await conn.fetch(
            QUERIES["disable_removed_config_subscribers"], [spec.name for spec, _, _ in declared]
        )
    return [r["name"] for r in rows]


async def reconcile_config_sources(
    db: Database, declared: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Mirror the file's sources (``managed_by = 'config'``); an API source of the same name
    is taken over by the file, which wins."""
    async with db.transaction() as conn:
        for name, spec in declared:
            await conn.execute(QUERIES["upsert_config_source"], name, spec)
        await conn.execute(QUERIES["delete_removed_config_sources"], [name for name, _ in declared])
