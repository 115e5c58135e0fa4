"""The database a process runs on: the embedded server when no URL is set, migrations,
and the shared pool (waited for while the database is not up yet)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gateway.config import Config
from gateway.store import StoreUnavailable
from gateway.store.bootstrap import ensure_database
from gateway.store.database import Database
from gateway.store.embedded import start_embedded
from gateway.store.migrate import upgrade_to_head

__all__ = ["open_database"]

log = logging.getLogger("gateway")


@contextlib.asynccontextmanager
async def open_database(config: Config, *, migrate: bool | None = None) -> AsyncIterator[Database]:
    """Connect (starting the embedded server when no URL is set), migrating if asked.

    ``migrate=None`` follows ``database.migrate_on_start``, which defaults to migrating
    the embedded database only: a shared database is migrated by ``webhook-gateway
    migrate`` (a Helm hook), so replicas never race on schema changes.
    """
    async with _server(config) as (url, embedded):
        if migrate is None:
            migrate = config.database.migrate_on_start
            migrate = embedded if migrate is None else migrate
        if migrate:
            await upgrade_to_head(url)
        db = await _connect(config, url)
        try:
            yield db
        finally:
            await db.close()


@contextlib.asynccontextmanager
async def _server(config: Config) -> AsyncIterator[tuple[str, bool]]:
    """The database server's URL, and whether it is the embedded one (started here when
    no URL is set, and stopped on the way out, whatever failed after it started)."""
    if config.database.url is not None:
        yield config.database.url, False
        return
    embedded = await asyncio.to_thread(start_embedded, config.database.data_dir)
    try:
        await ensure_database(embedded.server_url, "webhook_gateway")
        yield embedded.url, True
    finally:
        await asyncio.to_thread(embedded.stop)


async def _connect(config: Config, url: str) -> Database:
    """Connect, waiting for the database while it is not up yet (logged every try)."""
    delay = 0.5
    while True:
        try:
            return await Database.connect(
                url,
                min_size=config.database.pool_min,
                max_size=config.database.pool_max,
                connect_timeout=config.database.connect_timeout_seconds,
                command_timeout=config.database.command_timeout_seconds,
            )
        except StoreUnavailable as exc:
            log.warning("database not reachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
