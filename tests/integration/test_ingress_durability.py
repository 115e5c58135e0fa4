"""The ingress answers 2xx only after COMMIT: 503 with Retry-After while the database is away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.config import IngressConfig, SourceConfig, WriterConfig
from gateway.ingress.intake import Intake
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.source import Source
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.runtime.apps import build_ingress_app
from gateway.store.database import Database
from gateway.store.events import get_event
from testkit.polling import until
from testkit.senders import shopify
from testkit.tcpproxy import FaultProxy

SECRET = "integration-secret"


@pytest.fixture
async def client(database_proxy: FaultProxy) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    db = await Database.connect(
        database_proxy.url, min_size=1, max_size=4, connect_timeout=1, command_timeout=2
    )
    source = apply_preset(SourceConfig(name="shop", scheme="shopify", secret=SECRET))
    writer = GroupCommitWriter(db, WriterConfig(), Metrics(), ack_timeout=3)
    writer.start()
    state = Intake(
        IngressConfig(ack_timeout_seconds=3),
        {"shop": Source(source, build_verifier(source))},
        writer,
        Metrics(),
    )
    async with TestClient(TestServer(build_ingress_app(state))) as test_client:
        yield test_client
    await writer.close()
    await db.close()


async def _post(
    client: TestClient, webhook_id: str
) -> tuple[int, dict[str, str], dict[str, object]]:  # type: ignore[type-arg]
    body = orjson.dumps({"id": webhook_id})
    response = await client.post(
        "/webhooks/v1/shop", data=body, headers=shopify(SECRET, body, webhook_id)
    )
    return response.status, dict(response.headers), await response.json(content_type=None)


async def test_webhooks_get_503_with_retry_after_while_the_database_is_unreachable(
    client: TestClient,
    database_proxy: FaultProxy,
    database_url: str,  # type: ignore[type-arg]
) -> None:
    status, _, _ = await _post(client, "before")
    assert status == 202

    database_proxy.sever()
    answers = await asyncio.gather(*(_post(client, f"during-{i}") for i in range(5)))
    for status, headers, problem in answers:
        assert status == 503
        assert headers["Content-Type"] == "application/problem+json"
        assert int(headers["Retry-After"]) > 0
        assert problem["status"] == 503

    database_proxy.restore()

    async def taken() -> bool:
        return (await _post(client, "after"))[0] in (200, 202)

    await until(taken, 20, 0.2)

    direct = await Database.connect(database_url, min_size=1, max_size=1)
    try:
        count = await direct.pool.fetchval("SELECT count(*) FROM events")
        stored = {
            r["external_id"] for r in await direct.pool.fetch("SELECT external_id FROM events")
        }
    finally:
        await direct.close()
    assert {"before", "after"} <= stored
    assert count == len(stored)


async def test_an_acknowledged_event_is_readable_from_the_database(
    client: TestClient, database_proxy: FaultProxy
) -> None:  # type: ignore[type-arg]
    status, _, answer = await _post(client, "durable")
    assert status == 202
    db = await Database.connect(database_proxy.url, min_size=1, max_size=1)
    try:
        stored = await get_event(db, str(answer["event_id"]))
    finally:
        await db.close()
    assert stored.external_id == "durable"
    assert stored.body == orjson.dumps({"id": "durable"})
