"""XML bodies through the real gateway: an order goes in with its ids read by XPath and
comes out of the API as its JSON view; hostile documents leave the process's memory as
it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import aiohttp

from testkit.processes import GatewayProcess
from testkit.senders import shopify
from testkit.xmlbodies import HOSTILE, order
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get

ERP = {
    "name": "erp",
    "scheme": "none",
    "event_id": "xpath:/order/@id",
    "event_type": "xpath:concat(name(/*), '/created')",
}
XML = {"Content-Type": "application/xml"}


def memory_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None, status
    return int(found.group(1))


def reset_peak(pid: int) -> int:
    """Start the process's peak RSS (VmHWM) again from what it holds now; that now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return memory_kib(pid, "VmRSS")


async def test_an_xml_order_is_found_by_its_xpath_id_and_shown_as_its_view(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    config = base_config(database_url)
    config["sources"] = [*config["sources"], ERP]
    gateway = start_gateway(config)
    body = order(2, order_id="SO-9")

    async with http.post(f"{gateway.ingress}/webhooks/v1/erp", data=body, headers=XML) as r:
        assert r.status == 202, await r.text()
        event_id = (await r.json())["event_id"]

    reader = gateway.token("read")
    found = await api_get(http, gateway, reader, "/api/v1/events?external_id=SO-9")
    assert [e["id"] for e in found["data"]] == [event_id]
    shown = await api_get(http, gateway, reader, f"/api/v1/events/{event_id}")
    assert shown["event_type"] == "order/created"
    assert shown["body_text"] == body.decode()
    placed = shown["body_json"]["order"]
    assert placed["@id"] == "SO-9"
    assert [line["@sku"] for line in placed["lines"]["line"]] == ["SKU-00000", "SKU-00001"]


async def test_hostile_xml_is_refused_without_growing_the_gateways_memory(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    """Peak RSS of the gateway process (VmHWM) across every hostile document, each sent
    signed so that it reaches the parse: it grows by no more than a few megabytes (the
    largest document is 0.9 MB), where billion laughs alone would take 3 GB expanded."""
    gateway = start_gateway(base_config(database_url), role="ingress")
    url = f"{gateway.ingress}/webhooks/v1/shop"
    warm = order(6)
    async with http.post(url, data=warm, headers={**shopify(SHOP_SECRET, warm, "w"), **XML}):
        pass
    before = reset_peak(gateway.pid)

    for n, (name, body) in enumerate(HOSTILE.items()):
        headers = {**shopify(SHOP_SECRET, body, f"wh-{n}"), **XML}
        async with http.post(url, data=body, headers=headers) as r:
            assert r.status == 400, (name, await r.text())
            assert (await r.json())["type"].endswith("/xml-refused"), name

    grown = memory_kib(gateway.pid, "VmHWM") - before
    print(f"peak RSS growth over {len(HOSTILE)} hostile documents: {grown} KiB")
    assert grown < 16 * 1024
