"""Create the gateway's database on a fresh server (the embedded one)."""

from __future__ import annotations

import asyncpg

from gateway.store.database import translate_errors
from gateway.store.sql import QUERIES

__all__ = ["ensure_database"]


async def ensure_database(server_url: str, name: str) -> None:
    """Create database ``name`` unless it exists (connects to the server's default one)."""
    with translate_errors():
        conn = await asyncpg.connect(server_url, timeout=10)
        try:
            if await conn.fetchval(QUERIES["database_exists"], name) is None:
                await conn.execute(f'CREATE DATABASE "{name}"')  # name is ours, not input
        finally:
            await conn.close()
