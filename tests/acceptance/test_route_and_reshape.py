"""The whole of content routing, declared in the config file: a Shopify shop and a
WooCommerce shop, German and Austrian orders to one warehouse and the rest to another,
each warehouse receiving one neutral order format (the shipped example transforms)
signed as it was sent, and each event's page saying why it went where it went."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from standardwebhooks.webhooks import Webhook

from testkit.processes import GatewayProcess
from testkit.senders import shopify, woocommerce
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get, console_page

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "transforms"
WOO_SECRET = "woo-secret-for-tests"
SECRET = "whsec_" + "B" * 32
DACH = ["DE", "AT"]

# Where each shop's order keeps its country, and the transform that makes it neutral.
SHOPS = {
    "shop": ("shipping_address.country_code", "shopify-orders-create.js"),
    "woo": ("shipping.country", "woocommerce-order-created.js"),
}


def subscribers(base: str) -> list[dict[str, Any]]:
    """Per warehouse and shop, one subscriber: the shop's filter and its transform."""
    declared = []
    for warehouse, operator in (("dach", "$in"), ("rest", "$nin")):
        for source, (country, transform) in SHOPS.items():
            declared.append(
                {
                    "name": f"{warehouse}-{source}",
                    "url": f"{base}/{warehouse}",
                    "secret": SECRET,
                    "sources": [source],
                    "event_types": ["orders/create", "order.created"],
                    "filter": {"body": {country: {operator: DACH}}},
                    "transform": {"source": (EXAMPLES / transform).read_text()},
                }
            )
    return declared


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((EXAMPLES / "samples" / name).read_bytes())
    return loaded


def shopify_order(country: str) -> bytes:
    order = sample("shopify-orders-create.json")
    order["shipping_address"]["country_code"] = country
    return orjson.dumps(order)


def woocommerce_order(country: str) -> bytes:
    order = sample("woocommerce-order-created.json")
    order["shipping"]["country"] = country
    return orjson.dumps(order)


def neutral(country: str) -> dict[str, Any]:
    order = sample("wms-order.json")
    order["ship_to"]["country"] = country
    return order


async def test_two_shops_orders_reach_their_warehouse_in_one_format_and_the_page_says_why(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    config = base_config(database_url)
    config["sources"] = [
        *config["sources"],
        {
            "name": "woo",
            "scheme": "woocommerce",
            "secret": WOO_SECRET,
            "event_id": "X-WC-Webhook-Delivery-ID",
            "event_type": "X-WC-Webhook-Topic",
        },
    ]
    config["subscribers"] = subscribers(f"http://127.0.0.1:{sink.port}")
    gateway = start_gateway(config)

    sent: dict[str, str] = {}
    for country in ("DE", "FR"):
        body = shopify_order(country)
        headers = shopify(SHOP_SECRET, body, f"shop-{country}", "orders/create")
        async with http.post(
            f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=headers
        ) as r:
            assert r.status == 202, await r.text()
            sent[f"shop-{country}"] = (await r.json())["event_id"]
    for country in ("AT", "US"):
        body = woocommerce_order(country)
        headers = woocommerce(WOO_SECRET, body, f"woo-{country}")
        async with http.post(f"{gateway.ingress}/webhooks/v1/woo", data=body, headers=headers) as r:
            assert r.status == 202, await r.text()
            sent[f"woo-{country}"] = (await r.json())["event_id"]

    await sink.wait_for(4)
    await asyncio.sleep(0.3)  # nothing more comes
    arrived: dict[str, list[tuple[str, dict[str, Any]]]] = {"/dach": [], "/rest": []}
    verifier = Webhook(SECRET)
    for received in sink.received:
        verifier.verify(received.body, received.headers)  # signed after the transform
        order = orjson.loads(received.body)
        arrived[received.path].append((received.headers["X-Order-Channel"], order))
    assert sorted(arrived["/dach"], key=str) == [
        ("shopify", neutral("DE")),
        ("woocommerce", neutral("AT")),
    ]
    assert sorted(arrived["/rest"], key=str) == [
        ("shopify", neutral("FR")),
        ("woocommerce", neutral("US")),
    ]

    reader = gateway.token("read")
    french = await api_get(http, gateway, reader, f"/api/v1/events/{sent['shop-FR']}")
    assert [d["subscriber_name"] for d in french["deliveries"]] == ["rest-shop"]
    why_french = "filter: shipping_address.country_code $in [DE, AT]: was FR"
    assert [(n["subscriber_name"], n["reason"]) for n in french["not_routed"]] == [
        ("dach-shop", why_french)
    ]
    austrian = await api_get(http, gateway, reader, f"/api/v1/events/{sent['woo-AT']}")
    assert [d["subscriber_name"] for d in austrian["deliveries"]] == ["dach-woo"]
    assert [(n["subscriber_name"], n["reason"]) for n in austrian["not_routed"]] == [
        ("rest-woo", "filter: shipping.country $nin [DE, AT]: was AT")
    ]
    page = await console_page(gateway, reader, f"/console/events/{sent['shop-FR']}")
    assert "rest-shop" in page
    assert why_french in page
