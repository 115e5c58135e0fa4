"""The console in a real headless Chromium against the real ``webhook-gateway serve``.

The on-call story: log in with a token, find an order by its Shopify webhook id, read its
delivery timeline, retry the dead letter and watch it succeed, while a ``<script>`` the
sender planted in the body stays text. A read-only token sees no retry button and its
forged POST is refused. Screenshots of every page land in tests/artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from testkit.adminapi import register
from testkit.processes import GatewayProcess
from testkit.sinks import Sink
from testkit.tokens import bearer
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import api_get, send_order, wait_for_status

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
PLANTED = '<script>window.__pwned = 1; document.title = "pwned"</script>'
LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}

Page = Any  # playwright.async_api.Page, imported only when the browser tests run


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium): browser tests skipped")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def failing_sink() -> AsyncIterator[Sink]:
    s = await Sink([500]).start()
    yield s
    await s.stop()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def log_in(page: Page, gateway: GatewayProcess, token: str, screenshot: str = "") -> None:
    await page.goto(f"{gateway.admin}/console/")
    assert page.url.startswith(f"{gateway.admin}/console/login")
    if screenshot:
        await shot(page, screenshot)
    await page.fill("#token", token)
    await page.click("button:has-text('Log in')")
    await page.wait_for_url(f"{gateway.admin}/console/")


async def dead_order(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, webhook_id: str
) -> tuple[str, str]:
    """An order whose only delivery is dead: (event id, delivery id)."""
    body = orjson.dumps({"id": 820982911946154508, "order_number": 1042, "note": PLANTED})
    status, answer = await send_order(http, gateway, body, webhook_id)
    assert status == 202, answer
    dead = await wait_for_status(http, gateway, token, "dead")
    [delivery] = [d for d in dead if d["event_id"] == answer["event_id"]]
    return answer["event_id"], delivery["id"]


async def test_on_call_finds_an_order_reads_its_timeline_and_retries_its_dead_letter(
    browser: Any,  # first: without Chromium the test skips before anything starts
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    failing_sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    sub = await register(http, gateway, token, failing_sink.url, max_attempts=2)
    event_id, delivery_id = await dead_order(http, gateway, token, "wh-console-1")
    await send_order(http, gateway, orjson.dumps({"order_number": 7}), "wh-console-2")
    await wait_for_status(http, gateway, token, "dead", count=2)
    failing_sink.statuses = [200]  # the warehouse is back

    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await log_in(page, gateway, token, screenshot="login")
    assert "Ack latency p99" in await page.inner_text("main")
    await shot(page, "overview")

    await page.click("nav >> text=Search")
    await page.fill("input[name=q]", "wh-console-1")
    async with page.expect_navigation() as navigation:
        await page.press("input[name=q]", "Enter")
    response = await navigation.value
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    await shot(page, "search")
    await page.click(f"a[href='/console/events/{event_id}'] >> nth=0")
    await page.wait_for_url(f"**/console/events/{event_id}")

    assert await page.evaluate("window.__pwned") is None
    assert await page.title() == "Event wh-console-1 · webhook-gateway"
    assert PLANTED.replace('"', '\\"') in await page.inner_text("#event-body")
    timeline = page.locator(f"li.delivery[id='{delivery_id}']")
    assert await timeline.get_attribute("data-status") == "dead"
    assert await timeline.locator("table.attempts tbody tr").count() == 2
    assert (await timeline.inner_text()).count("HTTP 500") == 2
    assert "[hidden]" in await page.inner_text("table.headers")
    await shot(page, "event")

    await page.click("nav >> text=Dead letters")
    await shot(page, "dead_letters")
    await page.check(f"input[name=id][value='{delivery_id}']")
    await page.click("button:has-text('Retry selected')")
    await page.wait_for_selector("text=1 sent again.")
    await page.goto(f"{gateway.admin}/console/events/{event_id}")
    await page.wait_for_selector(f"li[id='{delivery_id}'][data-status='succeeded']", timeout=20000)
    assert "HTTP 200" in await page.locator(f"li[id='{delivery_id}']").inner_text()
    assert await page.evaluate("window.__pwned") is None
    await shot(page, "event_retried")

    await page.goto(f"{gateway.admin}/console/dead-letters")
    await page.click("button:has-text('Retry all 1 matching')")
    await page.wait_for_url("**/console/jobs/*")
    await page.wait_for_selector("#job-state:has-text('succeeded')", timeout=20000)
    assert (await page.inner_text("#job-progress")).strip() == "1 of 1"
    await shot(page, "job")

    await page.goto(f"{gateway.admin}/console/subscribers/{sub['id']}")
    await page.click("button:has-text('Send test event')")
    await page.wait_for_selector("#ping-result")
    assert "Test event: HTTP 200" in await page.inner_text("#ping-result")
    await shot(page, "subscriber")

    await page.set_viewport_size(PHONE)
    await page.goto(f"{gateway.admin}/console/")
    await shot(page, "overview_phone")
    await page.goto(f"{gateway.admin}/console/events/{event_id}")
    await shot(page, "event_phone")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the event page scrolls sideways on a phone"
    await context.close()
    delivered = await api_get(http, gateway, token, "/api/v1/deliveries?status=succeeded")
    assert {d["event_id"] for d in delivered["data"]} >= {event_id}


async def test_a_read_only_operator_sees_no_retry_and_cannot_forge_one(
    browser: Any,  # first: without Chromium the test skips before anything starts
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    failing_sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    admin = gateway.token("admin")
    await register(http, gateway, admin, failing_sink.url, max_attempts=1)
    event_id, delivery_id = await dead_order(http, gateway, admin, "wh-read-1")

    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    await log_in(page, gateway, gateway.token("read"))
    await page.goto(f"{gateway.admin}/console/dead-letters")
    assert delivery_id in await page.content()
    assert await page.locator("button:has-text('Retry')").count() == 0
    assert await page.locator("input[name=id]").count() == 0
    await shot(page, "dead_letters_read_only")
    await page.goto(f"{gateway.admin}/console/events/{event_id}")
    assert await page.locator("button:has-text('Retry')").count() == 0

    html = await page.content()
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    url = f"{gateway.admin}/console/dead-letters/act"
    forged = await page.request.post(
        url, form={"csrf": found.group(1), "action": "retry", "id": delivery_id}
    )
    assert forged.status == 403
    assert "replay" in await forged.text()
    no_csrf = await page.request.post(url, form={"action": "retry", "id": delivery_id})
    assert no_csrf.status == 403
    await context.close()
    [still] = await wait_for_status(http, gateway, admin, "dead")
    assert still["id"] == delivery_id


BUGGY = """function handler(request) {
  const o = request.body;
  return {body: {order: String(o.order_number), skus: o.lines.map((l) => l.sku)}};
}"""


async def test_an_operator_tries_a_fixed_transform_on_the_failed_event_then_retries_it(
    browser: Any,  # first: without Chromium the test skips before anything starts
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    sub = await register(http, gateway, token, sink.url, transform={"source": BUGGY})
    body = orjson.dumps({"order_number": 1043, "line_items": [{"sku": "TEE-M"}]})
    status, answer = await send_order(http, gateway, body, "wh-transform-1")
    assert status == 202, answer
    event_id = answer["event_id"]
    [dead] = await wait_for_status(http, gateway, token, "dead")
    assert sink.received == []

    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    await log_in(page, gateway, token)
    await page.goto(f"{gateway.admin}/console/events/{event_id}")
    timeline = await page.locator(f"li[id='{dead['id']}']").inner_text()
    assert "transform error" in timeline
    assert "TypeError: cannot read property 'map' of undefined (line 3, column 55)" in timeline

    await page.goto(f"{gateway.admin}/console/subscribers/{sub['id']}")
    assert await page.input_value("#try-source") == BUGGY
    await page.fill("#try-event", event_id)
    await page.click("button:has-text('Try it on this event')")
    await page.wait_for_selector("#try-result")
    assert "Transform error at line 3, column 55" in await page.inner_text("#try-result")
    fixed = BUGGY.replace("o.lines", "o.line_items")
    await page.fill("#try-source", fixed)
    await page.click("button:has-text('Try it on this event')")
    await page.wait_for_selector("#try-result.ok")
    assert orjson.loads(await page.inner_text("#try-body")) == {"order": "1043", "skus": ["TEE-M"]}
    await shot(page, "subscriber_transform")

    async with http.patch(
        f"{gateway.admin}/api/v1/subscribers/{sub['id']}",
        json={"transform": {"source": fixed}},
        headers=bearer(token),
    ) as response:
        assert response.status == 200, await response.text()
    await page.goto(f"{gateway.admin}/console/events/{event_id}")
    await page.click(f"li[id='{dead['id']}'] >> button:has-text('Retry')")
    await page.wait_for_selector(f"li[id='{dead['id']}'][data-status='succeeded']", timeout=20000)
    [received] = await sink.wait_for(1)
    assert orjson.loads(received.body) == {"order": "1043", "skus": ["TEE-M"]}
    timeline = await page.locator(f"li[id='{dead['id']}']").inner_text()
    assert f"sent {len(received.body)} bytes of application/json to {sink.url}" in timeline
    await context.close()
