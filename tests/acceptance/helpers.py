"""Steps of the README walkthrough, as the tests use them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.process import GatewayProcess
from tests.support.senders import shopify_headers

SHOP_SECRET = "shop-secret-for-tests"


async def register(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, url: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": fields.pop("name", "warehouse"), "url": url, **fields}
    async with http.post(
        f"{gateway.admin}/api/v1/subscribers",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        payload: dict[str, Any] = await response.json()
        assert response.status == 201, payload
        return payload


async def send_order(
    http: aiohttp.ClientSession, gateway: GatewayProcess, body: bytes, webhook_id: str
) -> tuple[int, dict[str, Any]]:
    headers = shopify_headers(SHOP_SECRET, body, webhook_id)
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def api_get(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, path: str
) -> Any:
    async with http.get(
        f"{gateway.admin}{path}", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def wait_for_status(
    http: aiohttp.ClientSession,
    gateway: GatewayProcess,
    token: str,
    status: str,
    count: int = 1,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Poll the deliveries list until ``count`` have ``status`` (bounded in time)."""
    async with asyncio.timeout(timeout):
        while True:
            page = await api_get(http, gateway, token, f"/api/v1/deliveries?status={status}")
            if len(page["data"]) >= count:
                return list(page["data"])
            await asyncio.sleep(0.1)
