from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store.database import Database
from testkit.postgres import PostgresForTests, with_database
from testkit.rabbitmq import RabbitMQ
from testkit.sqs import SQS_CREDENTIALS, SqsServer
from testkit.tcpproxy import FaultProxy

os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresForTests]:
    server = PostgresForTests()
    yield server
    server.close()


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    """A real RabbitMQ on loopback, shared by the session (tests use queues of their own)."""
    server = RabbitMQ()
    yield server
    server.close()


@pytest.fixture(scope="session")
def sqs_server() -> Iterator[SqsServer]:
    """An SQS emulator on loopback, shared by the session (tests use queues of their own)."""
    server = SqsServer()
    yield server
    server.close()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The emulator's credentials in the standard AWS variables, as the chain reads them."""
    for name, value in SQS_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return SQS_CREDENTIALS


@pytest.fixture
async def sqs(sqs_server: SqsServer, aws_credentials: dict[str, str]) -> AsyncIterator[Any]:
    """A client of the emulator, as an operator's tools (and Amazon) use SQS."""
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "sqs", region_name=sqs_server.region, endpoint_url=sqs_server.endpoint_url
    ) as client:
        yield client


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


@pytest.fixture
async def database_proxy(database_url: str) -> AsyncIterator[FaultProxy]:
    """This test's database behind a proxy the test can cut, stall and restore."""
    fault = await FaultProxy(database_url).start()
    yield fault
    await fault.stop()
