"""The real ``webhook-gateway serve`` names its database pools, shows each in its metrics,
and its worker claims and settles on a pool of its own (planned once: see
tests/integration/delivery/test_queue_pool.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import asyncpg

from testkit.adminapi import register
from testkit.processes import GatewayProcess
from testkit.scrape import scrape
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import send_order, wait_for_status

Start = Callable[..., GatewayProcess]


async def backends(database_url: str) -> dict[str, set[str]]:
    """Each application_name on the test's database, with the last statements it ran."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT application_name, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(row["application_name"], set()).add(row["query"])
    return seen


async def test_a_serving_gateway_claims_and_settles_on_its_queue_pool(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    await register(http, gateway, token, sink.url)
    status, _ = await send_order(http, gateway, b'{"id": 1}', "wh-pools-1")
    assert status == 202
    await sink.wait_for(1)
    await wait_for_status(http, gateway, token, "succeeded")
    await asyncio.sleep(0.2)  # the statement after the settlement (its NOTIFY) has ended

    seen = await backends(database_url)
    queue = " ".join(seen.get("webhook-gateway-queue", set()))
    assert "candidates AS MATERIALIZED" in queue or "INSERT INTO delivery_attempts" in queue
    assert "webhook-gateway-writer" in seen  # the ingress's group commit, also its own
    others = " ".join(
        q for name, queries in seen.items() if name != "webhook-gateway-queue" for q in queries
    )
    assert "candidates AS MATERIALIZED" not in others


async def test_each_pool_shows_its_connections_in_the_metrics(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession
) -> None:
    config = base_config(database_url, writer={"max_in_flight": 3})
    gateway = start_gateway(config)
    exported = await scrape(http, gateway.admin)
    open_ = exported.by("gateway_db_pool_size", "pool")
    assert open_["writer"] == 3  # one per commit slot, all open from the start
    assert open_["queue"] == 2  # a claim and a settlement
    assert open_["shared"] >= 1
    assert exported.by("gateway_db_pool_in_use", "pool").keys() == {"shared", "writer", "queue"}


async def test_an_ingress_process_has_no_queue_pool(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(base_config(database_url), role="ingress")
    exported = await scrape(http, gateway.admin)
    assert exported.by("gateway_db_pool_size", "pool").keys() == {"shared", "writer"}
