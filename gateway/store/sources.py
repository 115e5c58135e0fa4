"""Sources kept in the database: the API's own, and a copy of the config file's."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from gateway.store.database import Database
from gateway.store.errors import Conflict, NotFound

__all__ = [
    "StoredSource",
    "create_source",
    "delete_source",
    "get_source",
    "list_sources",
    "update_source",
]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredSource:
    name: str
    spec: dict[str, Any]  # the SourceConfig fields, secrets included: never shown as is
    managed_by: str
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> StoredSource:
    return StoredSource(**{f.name: row[f.name] for f in dataclasses.fields(StoredSource)})


async def list_sources(db: Database) -> list[StoredSource]:
    return [_record(r) for r in await db.fetch("list_sources")]


async def get_source(db: Database, name: str) -> StoredSource:
    row = await db.fetchrow("get_source", name)
    if row is None:
        raise NotFound(f"no source {name}")
    return _record(row)


async def create_source(db: Database, name: str, spec: dict[str, Any]) -> StoredSource:
    row = await db.fetchrow("insert_source", name, spec)  # Conflict when the name is taken
    assert row is not None
    return _record(row)


async def update_source(db: Database, name: str, spec: dict[str, Any]) -> StoredSource:
    row = await db.fetchrow("update_source", name, spec)
    if row is None:
        current = await get_source(db, name)  # NotFound
        raise Conflict(f"source {current.name!r} is managed by the config file")
    return _record(row)


async def delete_source(db: Database, name: str) -> None:
    if await db.fetchval("delete_source", name) is None:
        current = await get_source(db, name)
        raise Conflict(f"source {current.name!r} is managed by the config file")
