"""A signature or credential never leaves the gateway: not through the API, the console,
the database's rows, or the headers forwarded to subscribers."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import asyncpg
import orjson

from testkit.adminapi import register
from testkit.processes import GatewayProcess
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import api_get, send_order

ORDER = orjson.dumps({"id": 1042, "total_price": "254.98"})
HIDDEN = "[hidden]"


async def test_a_read_only_token_cannot_forge_an_event_from_what_it_reads(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    gateway = start_gateway(base_config(database_url))
    status, answer = await send_order(http, gateway, ORDER, "wh-1042")
    assert status == 202

    reader = gateway.token("read")
    shown = await api_get(http, gateway, reader, f"/api/v1/events/{answer['event_id']}")
    assert shown["headers"]["x-shopify-hmac-sha256"] == HIDDEN
    assert shown["headers"]["x-shopify-topic"] == "orders/create"

    forged = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shown["headers"]["x-shopify-hmac-sha256"],
        "X-Shopify-Webhook-Id": "wh-forged",
        "X-Shopify-Topic": "orders/create",
    }
    async with http.post(
        f"{gateway.ingress}/webhooks/v1/shop", data=ORDER, headers=forged
    ) as response:
        assert response.status == 401


async def test_the_stored_row_holds_no_signature(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    gateway = start_gateway(base_config(database_url))
    status, answer = await send_order(http, gateway, ORDER, "wh-1042")
    assert status == 202
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT headers::text FROM events WHERE id = $1", answer["event_id"]
        )
    finally:
        await conn.close()
    headers = orjson.loads(stored)
    assert headers["x-shopify-hmac-sha256"] == HIDDEN


async def test_a_forwarded_signature_header_reaches_the_subscriber_hidden(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    await register(
        http,
        gateway,
        token,
        sink.url,
        forward_headers=["X-Shopify-Hmac-Sha256", "X-Shopify-Topic"],
    )
    status, _ = await send_order(http, gateway, ORDER, "wh-1042")
    assert status == 202
    [received] = await sink.wait_for(1)
    sent = {name.lower(): value for name, value in received.headers.items()}
    assert sent["x-shopify-hmac-sha256"] == HIDDEN
    assert sent["x-shopify-topic"] == "orders/create"


async def test_a_subscribers_credential_header_is_shown_hidden_and_kept_when_sent_back(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    auth = {"Authorization": f"Bearer {token}"}
    created = await register(
        http, gateway, token, sink.url, headers={"Authorization": "Bearer wms", "X-Tenant": "eu"}
    )
    assert created["headers"] == {"Authorization": HIDDEN, "X-Tenant": "eu"}

    read = await api_get(
        http, gateway, gateway.token("read"), f"/api/v1/subscribers/{created['id']}"
    )
    assert read["headers"] == {"Authorization": HIDDEN, "X-Tenant": "eu"}

    patch = {"headers": {**read["headers"], "X-Tenant": "us"}}
    async with http.patch(
        f"{gateway.admin}/api/v1/subscribers/{created['id']}", json=patch, headers=auth
    ) as response:
        assert response.status == 200, await response.text()
    status, _ = await send_order(http, gateway, ORDER, "wh-1042")
    assert status == 202
    [received] = await sink.wait_for(1)
    sent = {name.lower(): value for name, value in received.headers.items()}
    assert sent["authorization"] == "Bearer wms"
    assert sent["x-tenant"] == "us"

    fresh = {"name": "erp", "url": sink.url, "headers": {"Authorization": HIDDEN}}
    async with http.post(f"{gateway.admin}/api/v1/subscribers", json=fresh, headers=auth) as r:
        assert r.status == 422
        problem = await r.json(content_type=None)
    assert problem["errors"][0]["field"] == "headers.Authorization"
