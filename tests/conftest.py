from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.store.database import Database
from testkit.postgres import PostgresForTests, with_database

os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresForTests]:
    server = PostgresForTests()
    yield server
    server.close()


@pytest.fixture
def database_url(pg_server: PostgresForTests) -> Iterator[str]:
    """A migrated database of its own for this test."""
    name = pg_server.create_database()
    yield with_database(pg_server.url, name)
    pg_server.drop_database(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, min_size=1, max_size=5)
    yield database
    await database.close()
