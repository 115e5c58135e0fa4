"""Operational events through the real ``serve``: a platform team's Slack channel told, once
and signed, that a warehouse endpoint was disabled; two gateway processes on one database
telling of one signature-failure spike once; the source ``gateway`` closed to webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.senders import shopify
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get, console_page, send_order

REPO = Path(__file__).resolve().parents[2]
SLACK = (REPO / "examples" / "transforms" / "slack.js").read_text()
SECRET = "whsec_" + "C" * 32
CONSOLE = "https://gw.example:8081"


def is_slack_message(body: Any) -> bool:
    """What Slack's incoming webhooks take: ``text``, and blocks of known types."""
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return False
    blocks = body.get("blocks", [])
    return isinstance(blocks, list) and all(
        isinstance(b, dict) and b.get("type") in {"header", "section", "actions", "context"}
        for b in blocks
    )


def endpoints() -> Callable[[web.Request, int], Any]:
    """/warehouse fails twice, then answers 410 Gone; /slack takes only Slack messages;
    anything else succeeds."""
    warehouse: list[int] = []

    async def respond(request: web.Request, _: int) -> web.StreamResponse:
        if request.path == "/warehouse":
            warehouse.append(1)
            return web.Response(status=500 if len(warehouse) < 3 else 410)
        if request.path == "/slack":
            body = orjson.loads(await request.read())
            ok = is_slack_message(body)
            return web.Response(status=200 if ok else 400, text="ok" if ok else "invalid_blocks")
        return web.Response(text="ok")

    return respond


async def test_a_platform_team_gets_one_slack_message_when_a_warehouse_endpoint_is_disabled(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    sink = await Sink(behaviour=endpoints()).start()
    try:
        base = f"http://127.0.0.1:{sink.port}"
        config = base_config(database_url, operational_events={"console_url": CONSOLE})
        config["subscribers"] = [
            {"name": "warehouse", "url": f"{base}/warehouse", "secret": SECRET,
             "sources": ["shop"]},
            {"name": "slack-ops", "url": f"{base}/slack", "secret": SECRET,
             "sources": ["gateway"], "event_types": ["subscriber.*"],
             "transform": {"source": SLACK}},
            {"name": "everything", "url": f"{base}/everything", "secret": SECRET},
        ]  # fmt: skip
        gateway = start_gateway(config)
        token = gateway.token()

        status, _ = await send_order(http, gateway, b'{"id": 1}', "order-1")
        assert status == 202
        await until(lambda: _arrived(sink, "/slack"), what="the Slack message")
        await until(lambda: _arrived(sink, "/everything"))
        await asyncio.sleep(1.0)  # nothing more comes

        (message,) = [r for r in sink.received if r.path == "/slack"]
        Webhook(SECRET).verify(message.body, message.headers)  # signed as it was sent
        slack = orjson.loads(message.body)
        assert is_slack_message(slack)
        assert slack["text"] == "Subscriber warehouse was disabled"
        subscribers = await api_get(http, gateway, token, "/api/v1/subscribers")
        (warehouse,) = [s for s in subscribers["data"] if s["name"] == "warehouse"]
        assert warehouse["state"] == "disabled"
        button = slack["blocks"][-1]["elements"][0]
        assert button["url"] == f"{CONSOLE}/console/subscribers/{warehouse['id']}"
        (everything,) = [r for r in sink.received if r.path == "/everything"]
        assert orjson.loads(everything.body) == {"id": 1}  # the order, no gateway event

        listed = await api_get(http, gateway, token, "/api/v1/events?source=gateway")
        (told,) = listed["data"]
        assert told["event_type"] == "subscriber.disabled"
        by_type = await api_get(http, gateway, token, "/api/v1/events?event_type=subscriber.*")
        assert [e["id"] for e in by_type["data"]] == [told["id"]]
        page = await console_page(gateway, token, f"/console/events/{told['id']}")
        assert "subscriber.disabled" in page
        sources = await console_page(gateway, token, "/console/sources")
        assert 'id="source-gateway"' in sources and "the gateway's own events" in sources
    finally:
        await sink.stop()


def _arrived(sink: Sink, path: str) -> bool:
    return any(r.path == path for r in sink.received)


async def test_the_gateway_source_takes_no_webhooks(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    gateway = start_gateway(base_config(database_url))
    body = orjson.dumps({"type": "subscriber.disabled", "data": {}})
    headers = {"Content-Type": "application/json"}
    async with http.post(f"{gateway.ingress}/webhooks/v1/gateway", data=body, headers=headers) as r:
        assert r.status == 404
        assert r.content_type == "application/problem+json"
    token = gateway.token()
    listed = await api_get(http, gateway, token, "/api/v1/events?source=gateway")
    assert listed["data"] == []


@pytest.mark.parametrize("replicas", [2])
async def test_two_gateway_processes_on_one_database_tell_a_signature_spike_once(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    replicas: int,
) -> None:
    config = base_config(
        database_url,
        operational_events={
            "signature_failures_threshold": 6,
            "signature_failures_window_seconds": 2,
        },
    )
    gateways = [start_gateway(config, name=f"replica{i}") for i in range(replicas)]
    body = b'{"id": 2}'
    forged = shopify("not-the-secret", body, "forged")
    for gateway in gateways:
        for _ in range(3):  # neither replica reaches the threshold alone
            async with http.post(
                f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=forged
            ) as r:
                assert r.status == 401
    token = gateways[0].token()

    async def told(count: int) -> list[dict[str, Any]] | None:
        page = await api_get(http, gateways[0], token, "/api/v1/events?source=gateway")
        events = list(reversed(page["data"]))
        return events if len(events) >= count else None

    (spiking,) = await until(lambda: told(1), 15.0)
    assert spiking["event_type"] == "source.signature_failures_spiking"
    both = await until(lambda: told(2), 15.0)  # the window passes without failures
    await asyncio.sleep(2.5)  # both replicas check again: nothing more
    assert [e["event_type"] for e in await told(0) or []] == [
        "source.signature_failures_spiking",
        "source.signature_failures_recovered",
    ]
    assert both[0]["id"] == spiking["id"]
    valid = shopify(SHOP_SECRET, body, "real")
    async with http.post(f"{gateways[1].ingress}/webhooks/v1/shop", data=body, headers=valid) as r:
        assert r.status == 202
