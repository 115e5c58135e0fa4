"""Make the database agree with the config file: its subscribers and its sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain.ids import new_id
from gateway.domain.subscriber import SubscriberSettings
from gateway.store.database import Database
from gateway.store.errors import Conflict
from gateway.store.sql import QUERIES
from gateway.store.subscribers import stored_values

__all__ = ["reconcile_config_sources", "reconcile_subscribers"]


async def reconcile_subscribers(
    db: Database, declared: Sequence[tuple[SubscriberSettings, str]]
) -> list[str]:
    """Upsert each (settings, secret); disable config subscribers no longer declared.

    Returns the names disabled. Raises :class:`Conflict` when a declared name belongs to a
    subscriber made through the API.
    """
    async with db.transaction() as conn:
        for settings, secret in declared:
            row = await conn.fetchrow(
                QUERIES["upsert_config_subscriber"], new_id("sub"), secret, *stored_values(settings)
            )
            if row is None:
                raise Conflict(
                    f"subscriber {settings.name!r} exists and is managed through the API"
                )
        rows = await conn.fetch(
            QUERIES["disable_removed_config_subscribers"], [s.name for s, _ in declared]
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
