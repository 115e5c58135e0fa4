"""The running gateway removes old data on its own timer, visibly, and keeps work."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import asyncpg
import orjson

from testkit.bulkdata import seed, seed_subscribers
from testkit.processes import GatewayProcess
from testkit.scrape import scrape_until
from tests.acceptance.conftest import base_config


async def test_the_gateway_runs_retention_rounds_and_reports_them_in_metrics_and_logs(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        subs = await seed_subscribers(conn, ["warehouse"])
        await seed(conn, count=3_000, age_days=45, subscriber_ids=subs, prefix="old-")
        await seed(
            conn,
            count=200,
            age_days=45,
            subscriber_ids=subs,
            status="dead",
            finished_after_days=44,
            prefix="dead-",
        )
        await seed(conn, count=500, age_days=3, subscriber_ids=subs, prefix="recent-")
    finally:
        await conn.close()
    config = base_config(
        database_url,
        retention={"interval_seconds": 0.5, "batch_size": 400, "sources": {"shop": 40}},
    )

    gateway = start_gateway(config)
    after = await scrape_until(
        http,
        gateway.admin,
        lambda s: s.value("gateway_retention_runs_total", result="completed") >= 1,
    )

    assert after.value("gateway_retention_deleted_total", kind="events") == 3_000
    assert after.value("gateway_retention_last_run_timestamp_seconds") > 0
    conn = await asyncpg.connect(database_url)
    try:
        left = dict(
            await conn.fetch(
                "SELECT split_part(external_id, '-', 1), count(*) FROM events GROUP BY 1"
            )
        )
    finally:
        await conn.close()
    assert left == {"dead": 200, "recent": 500}
    rounds = [
        orjson.loads(line) for line in gateway.logs().splitlines() if '"retention round"' in line
    ]
    assert rounds[0]["deleted_events"] == 3_000
    assert rounds[0]["level"] == "info"
