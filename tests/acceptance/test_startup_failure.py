"""A service that cannot start ends start-up with one line, and whatever started before it
is stopped: no task left running, no database connection left open.

The failure is a real one: the gateway connects as a role the database allows only a few
connections, enough for the shared pool, the queue pool and the dispatcher's listener,
not for the writer's pool (one connection per commit slot), which starts after them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.config import Config, load_config
from gateway.runtime import StartupError, serve
from testkit.processes import run_cli

# The shared pool (1), the queue pool (2), the dispatcher's LISTEN connection (1), and one
# of the writer's four: the writer's pool fails, whichever of them connects first.
CONNECTION_LIMIT = 5
WRITER_SLOTS = 4


class Limited:
    """A login role on the test's database with a connection limit, and its URL."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url  # a superuser's: not subject to the limit
        self.name = f"gw_limited_{secrets.token_hex(4)}"
        password = secrets.token_hex(8)
        parts = urlsplit(database_url)
        where = parts.netloc.rpartition("@")[2]
        self.url = urlunsplit(parts._replace(netloc=f"{self.name}:{password}@{where}"))
        self.password = password

    async def connections(self) -> list[str]:
        """The application name of each connection the role has open now."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT application_name FROM pg_stat_activity WHERE usename = $1", self.name
            )
        finally:
            await conn.close()
        return sorted(row["application_name"] for row in rows)


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[Limited]:
    role = Limited(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f"CREATE ROLE {role.name} LOGIN PASSWORD '{role.password}'"
            f" CONNECTION LIMIT {CONNECTION_LIMIT}"
        )
        await conn.execute(f"GRANT pg_read_all_data, pg_write_all_data TO {role.name}")
        yield role
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            role.name,
        )
        await conn.execute(f"DROP ROLE {role.name}")
    finally:
        await conn.close()


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[ingress]\nhost = "127.0.0.1"\nport = 0\n'
        '[admin]\nhost = "127.0.0.1"\nport = 0\n'
        f'[database]\nurl = "{url}"\npool_min = 1\npool_max = 1\n'
        f"[writer]\nmax_in_flight = {WRITER_SLOTS}\n"
        f'[api]\njwt_secret = "{"k" * 48}"\n'
    )
    return path


def config_for(tmp_path: Path, url: str) -> Config:
    return load_config(write_config(tmp_path, url), env={})


async def no_connections_left(limited: Limited) -> list[str]:
    """The role's connections once the server has ended those closed (a second at most)."""
    for _ in range(50):
        left = await limited.connections()
        if not left:
            break
        await asyncio.sleep(0.02)
    return left


async def test_a_service_that_cannot_start_stops_every_one_started_before_it(
    limited: Limited, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.lifecycle")
    config = config_for(tmp_path, limited.url)
    before = asyncio.all_tasks()
    with pytest.raises(StartupError) as failed:
        async with asyncio.timeout(30):
            await serve(config, "all", asyncio.Event())

    assert str(failed.value).startswith("writer pool: database unavailable: ")
    assert f'too many connections for role "{limited.name}"' in str(failed.value)
    assert "\n" not in str(failed.value)
    # What started before it: pools, the dispatcher and its LISTEN connection, tasks...
    assert started(caplog) == [
        "database",
        "operational events",
        "queue pool",
        "delivery client",
        "dispatcher",
        "source registry",
        "loop lag",
    ]
    # ...of which nothing is left: no connection open (the writer pool's first ones
    # neither), no task running.
    assert await no_connections_left(limited) == []
    assert asyncio.all_tasks() - before == set()


def test_serve_exits_1_with_one_line_when_a_service_cannot_start(
    limited: Limited, tmp_path: Path
) -> None:
    config = write_config(tmp_path, limited.url)
    result = run_cli("serve", "--config", str(config), timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    logged = [line for line in lines if line.startswith("{")]
    assert all(json.loads(line)["msg"] for line in logged)  # the log's own lines, JSON
    assert [line for line in lines if line not in logged] == [
        "webhook-gateway: writer pool: database unavailable: TooManyConnectionsError"
        f' (too many connections for role "{limited.name}")'
    ]
    assert asyncio.run(no_connections_left(limited)) == []


async def test_a_gateway_stops_its_services_in_the_order_that_loses_nothing(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.lifecycle")
    config = config_for(tmp_path, database_url)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(config, "all", stop))
    async with asyncio.timeout(30):
        while "admin listener" not in started(caplog):
            await asyncio.sleep(0.02)
    stop.set()
    async with asyncio.timeout(30):
        await serving

    stopping = [r.args[0] for r in caplog.records if r.msg == "stopping %s"]  # type: ignore[index]
    assert stopping == [
        "backlog gauges",
        "retention",
        "ingress listener",  # no more webhooks taken; those read are answered
        "signature spikes",
        "source readers",  # no more messages read; those in hand stored and settled
        "writer",  # everything acknowledged is committed
        "writer pool",
        "loop lag",
        "source registry",
        "dispatcher",  # attempts in flight get their grace, on the client and queue pool
        "delivery client",
        "queue pool",
        "operational events",  # what the dispatcher and the monitors told is stored
        "admin listener",  # /readyz, /metrics and the API answer until here
        "database",
    ]


def started(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.args[0] for r in caplog.records if r.msg == "started %s"]  # type: ignore[index]
