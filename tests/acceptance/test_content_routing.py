"""Routing by content through the real gateway: German orders to one warehouse, the rest
to another, whether the warehouses are declared in the config file or registered through
the API; an order nobody takes is stored all the same, and its page (API and console)
says per warehouse why it was not sent there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from testkit.adminapi import register
from testkit.processes import GatewayProcess
from testkit.senders import shopify
from testkit.sinks import Sink
from testkit.xmlbodies import order as xml_order
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get, console_page, wait_for_status

GERMAN = {"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}}
THE_REST = {"body": {"shipping_address.country_code": {"$nin": ["DE", "AT"]}}}
SECRET = "whsec_" + "A" * 32


def shop_order(number: int, country: str) -> bytes:
    return orjson.dumps(
        {
            "id": 5600000000000 + number,
            "email": f"buyer{number}@example.com",
            "total_price": "54.90",
            "shipping_address": {"city": "somewhere", "country_code": country},
            "line_items": [{"sku": "TSHIRT-BLK-M", "quantity": 1}],
        }
    )


async def send(
    http: aiohttp.ClientSession,
    gateway: GatewayProcess,
    number: int,
    country: str,
    topic: str = "orders/create",
) -> str:
    body = shop_order(number, country)
    headers = shopify(SHOP_SECRET, body, f"wh-{number}", topic)
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=headers) as r:
        assert r.status == 202, await r.text()
        return str((await r.json())["event_id"])


def countries(sink: Sink, path: str) -> list[str]:
    return sorted(
        orjson.loads(r.body)["shipping_address"]["country_code"]
        for r in sink.received
        if r.path == path
    )


async def test_declared_warehouses_get_their_countries_and_the_page_says_why_not_the_other(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    base = f"http://127.0.0.1:{sink.port}"
    config = base_config(database_url)
    config["subscribers"] = [
        {"name": "warehouse-dach", "url": f"{base}/dach", "secret": SECRET, "filter": GERMAN},
        {"name": "warehouse-rest", "url": f"{base}/rest", "secret": SECRET, "filter": THE_REST},
    ]
    gateway = start_gateway(config)
    sent = {c: await send(http, gateway, n, c) for n, c in enumerate(["DE", "FR", "AT", "US"])}

    await sink.wait_for(4)
    await asyncio.sleep(0.3)  # nothing more comes
    assert countries(sink, "/dach") == ["AT", "DE"]
    assert countries(sink, "/rest") == ["FR", "US"]

    reader = gateway.token("read")
    french = await api_get(http, gateway, reader, f"/api/v1/events/{sent['FR']}")
    assert [d["subscriber_name"] for d in french["deliveries"]] == ["warehouse-rest"]
    why = "filter: shipping_address.country_code $in [DE, AT]: was FR"
    assert [(n["subscriber_name"], n["reason"]) for n in french["not_routed"]] == [
        ("warehouse-dach", why)
    ]
    german = await api_get(http, gateway, reader, f"/api/v1/events/{sent['DE']}")
    assert [n["reason"] for n in german["not_routed"]] == [
        "filter: shipping_address.country_code $nin [DE, AT]: was DE"
    ]
    page = await console_page(gateway, reader, f"/console/events/{sent['FR']}")
    assert "warehouse-dach" in page
    assert why in page


async def test_registered_warehouses_route_by_body_headers_and_type_from_the_next_event(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    admin = gateway.token("admin")
    base = f"http://127.0.0.1:{sink.port}"
    shop_domain = {"headers": {"X-Shopify-Shop-Domain": {"$endsWith": ".myshopify.com"}}}
    await register(http, gateway, admin, f"{base}/dach", name="dach", filter=GERMAN)
    rest = await register(
        http, gateway, admin, f"{base}/rest", name="rest", filter={"$not": GERMAN, **shop_domain}
    )
    first = await send(http, gateway, 1, "FR")
    await sink.wait_for(1)
    assert countries(sink, "/rest") == ["FR"]

    # From now on the rest takes only new orders: the very next event is routed so.
    only_new = {"$and": [{"$not": GERMAN}, {"type": "orders/create"}]}
    async with http.patch(
        f"{gateway.admin}/api/v1/subscribers/{rest['id']}",
        json={"filter": only_new},
        headers={"Authorization": f"Bearer {admin}"},
    ) as changed:
        assert changed.status == 200, await changed.text()
    updated = await send(http, gateway, 2, "FR", topic="orders/updated")
    german = await send(http, gateway, 3, "DE", topic="orders/updated")
    await sink.wait_for(2)
    await asyncio.sleep(0.5)  # nothing more comes
    assert countries(sink, "/dach") == ["DE"]
    assert countries(sink, "/rest") == ["FR"]

    reader = gateway.token("read")
    listed = await api_get(http, gateway, reader, "/api/v1/events?source=shop")
    assert {first, updated, german} <= {e["id"] for e in listed["data"]}
    unwanted = await api_get(http, gateway, reader, f"/api/v1/events/{updated}")
    assert unwanted["deliveries"] == []
    assert {n["subscriber_name"]: n["reason"] for n in unwanted["not_routed"]} == {
        "dach": "filter: shipping_address.country_code $in [DE, AT]: was FR",
        "rest": "filter: type $eq orders/create: was orders/updated",
    }
    await wait_for_status(http, gateway, reader, "succeeded", count=2)


async def test_an_xml_order_is_routed_by_its_json_view(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    config = base_config(database_url)
    config["sources"] = [*config["sources"], {"name": "erp", "scheme": "none"}]
    gateway = start_gateway(config)
    admin = gateway.token("admin")
    base = f"http://127.0.0.1:{sink.port}"
    by_code: dict[str, Any] = {"body": {"order.shipping.country.@code": {"$in": ["DE", "AT"]}}}
    await register(http, gateway, admin, f"{base}/dach", name="dach", filter=by_code)
    await register(http, gateway, admin, f"{base}/rest", name="rest", filter={"$not": by_code})
    xml = {"Content-Type": "application/xml"}
    german = xml_order(1, order_id="SO-1")
    french = german.replace(b'code="DE"', b'code="FR"').replace(b"SO-1", b"SO-2")
    ids = []
    for body in (german, french):
        async with http.post(f"{gateway.ingress}/webhooks/v1/erp", data=body, headers=xml) as r:
            assert r.status == 202, await r.text()
            ids.append((await r.json())["event_id"])

    await sink.wait_for(2)
    await asyncio.sleep(0.3)
    assert {(r.path, b'code="DE"' in r.body) for r in sink.received} == {
        ("/dach", True),
        ("/rest", False),
    }
    shown = await api_get(http, gateway, gateway.token("read"), f"/api/v1/events/{ids[1]}")
    assert [n["reason"] for n in shown["not_routed"]] == [
        "filter: order.shipping.country.@code $in [DE, AT]: was FR"
    ]
