"""Steps of the README walkthrough, as the tests use them."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.senders import shopify
from testkit.tokens import bearer

SHOP_SECRET = "shop-secret-for-tests"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


async def send_order(
    http: aiohttp.ClientSession, gateway: GatewayProcess, body: bytes, webhook_id: str
) -> tuple[int, dict[str, Any]]:
    headers = shopify(SHOP_SECRET, body, webhook_id)
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def api_get(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, path: str
) -> Any:
    async with http.get(f"{gateway.admin}{path}", headers=bearer(token)) as r:
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

    async def listed() -> list[dict[str, Any]] | None:
        page = await api_get(http, gateway, token, f"/api/v1/deliveries?status={status}")
        return list(page["data"]) if len(page["data"]) >= count else None

    return await until(listed, timeout, 0.1, what=f"{count} deliveries {status}")


async def console_page(gateway: GatewayProcess, token: str, path: str) -> str:
    """A console page, fetched by an operator who logs in with ``token``."""
    jar = aiohttp.CookieJar(unsafe=True)  # the console is on 127.0.0.1
    async with aiohttp.ClientSession(gateway.admin, cookie_jar=jar) as browser:
        async with browser.get("/console/login") as form:
            found = CSRF_FIELD.search(await form.text())
            assert found is not None
        login = {"csrf": found.group(1), "token": token}
        async with browser.post("/console/login", data=login) as landed:
            assert landed.status == 200, await landed.text()
        async with browser.get(path) as page:
            assert page.status == 200, await page.text()
            return await page.text()
