"""The delivery engine through the real ``webhook-gateway serve``: secrets, pause, thin
payloads, dead letters, bulk retry jobs, replay, 410 and the circuit breaker."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from testkit.adminapi import register
from testkit.polling import until as poll_until
from testkit.processes import GatewayProcess
from testkit.senders import shopify
from testkit.sinks import Sink
from testkit.tokens import bearer
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get, wait_for_status

Start = Callable[..., GatewayProcess]
LINK_SECRET = "payload-link-secret-for-the-tests-0123456789"


def order(n: int) -> bytes:
    return orjson.dumps({"id": n, "total_price": f"{n}.00"})


async def send(
    http: aiohttp.ClientSession, gateway: GatewayProcess, n: int, topic: str = "orders/create"
) -> str:
    body = order(n)
    headers = shopify(SHOP_SECRET, body, f"wh-{n}", topic)
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=body, headers=headers) as r:
        assert r.status == 202, await r.text()
        event_id: str = (await r.json())["event_id"]
        return event_id


async def api_post(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.post(f"{gateway.admin}{path}", json=body, headers=bearer(token)) as r:
        return r.status, await r.json(content_type=None)


until = functools.partial(poll_until, every=0.1)


async def test_a_rotated_secret_and_the_previous_one_both_verify_until_the_previous_expires(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    sub = await register(http, gateway, token, sink.url)
    first = sub["secret"]
    path = f"/api/v1/subscribers/{sub['id']}/secret/rotate"

    status, rotated = await api_post(
        http, gateway, token, path, {"previous_expires_in_seconds": 3600}
    )
    assert status == 200 and rotated["secret"] != first
    assert rotated["previous_secret_expires_at"]
    await send(http, gateway, 1)
    [received] = await sink.wait_for(1)
    for secret in (first, rotated["secret"]):  # a receiver on either secret accepts it
        assert Webhook(secret).verify(received.body, received.headers)["id"] == 1

    status, again = await api_post(http, gateway, token, path, {"previous_expires_in_seconds": 0})
    assert status == 200 and again["previous_secret_expires_at"] is None
    await send(http, gateway, 2)
    received = (await sink.wait_for(2))[1]
    assert Webhook(again["secret"]).verify(received.body, received.headers)["id"] == 2
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(received.body, received.headers)
    shown = await api_get(http, gateway, token, f"/api/v1/subscribers/{sub['id']}")
    assert "secret" not in shown


async def test_a_paused_subscriber_waits_while_others_are_served_and_resumes(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    other = await Sink().start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        paused = await register(http, gateway, token, sink.url, name="paused")
        await register(http, gateway, token, other.url, name="other")
        status, shown = await api_post(
            http,
            gateway,
            token,
            f"/api/v1/subscribers/{paused['id']}/pause",
            {"reason": "stock take"},
        )
        assert status == 200 and (shown["state"], shown["state_reason"]) == ("paused", "stock take")
        for n in range(3):
            await send(http, gateway, n)
        await other.wait_for(3)
        waiting = await api_get(
            http, gateway, token, f"/api/v1/deliveries?subscriber_id={paused['id']}"
        )
        assert [(d["status"], d["total_attempts"]) for d in waiting["data"]] == [("pending", 0)] * 3
        assert sink.received == []

        status, shown = await api_post(
            http, gateway, token, f"/api/v1/subscribers/{paused['id']}/resume"
        )
        assert status == 200 and shown["state"] == "active"
        await sink.wait_for(3)
    finally:
        await other.stop()


def _link_parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["sig"][0]


def _signed(event_id: str, expires: int) -> str:
    mac = hmac.new(LINK_SECRET.encode(), f"{event_id}.{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


async def test_a_thin_payload_links_to_the_original_body_and_refuses_forged_or_expired_links(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    config = base_config(database_url, delivery={"payload_link_secret": LINK_SECRET})
    gateway = start_gateway(config)
    token = gateway.token("admin")
    sub = await register(http, gateway, token, sink.url, payload_mode="thin")
    event_id = await send(http, gateway, 7)
    [received] = await sink.wait_for(1)
    envelope = Webhook(sub["secret"]).verify(received.body, received.headers)
    assert (envelope["id"], envelope["type"], envelope["source"]) == (
        event_id,
        "orders/create",
        "shop",
    )
    assert envelope["size"] == len(order(7))
    assert envelope["url"].startswith(f"{gateway.ingress}/payloads/v1/{event_id}?")

    async with http.get(envelope["url"]) as r:
        assert r.status == 200
        assert await r.read() == order(7)
        assert r.headers["Content-Type"] == "application/json"

    path, expires, sig = _link_parts(envelope["url"])
    forged = f"{gateway.ingress}{path}?expires={int(expires) + 86400}&sig={sig}"
    async with http.get(forged) as r:
        assert r.status == 403
    past = int(time.time()) - 1
    expired = f"{gateway.ingress}{path}?expires={past}&sig={_signed(event_id, past)}"
    async with http.get(expired) as r:
        assert r.status == 410


async def test_dead_letters_are_filtered_discarded_and_retried_in_bulk_by_a_job(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession
) -> None:
    down = await Sink(statuses=[500]).start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        await register(http, gateway, token, down.url, max_attempts=1)
        await send(http, gateway, 1, "orders/create")
        await send(http, gateway, 2, "orders/paid")
        await send(http, gateway, 3, "refunds/create")

        async def dead(query: str = "") -> list[dict[str, Any]]:
            page = await api_get(http, gateway, token, f"/api/v1/deliveries?status=dead{query}")
            return list(page["data"])

        await until(lambda: _at_least(dead(), 3))
        assert len(await dead("&event_type=orders/*")) == 2
        assert len(await dead("&source=shop")) == 3
        assert await dead("&source=erp") == []
        assert await dead("&since=2999-01-01T00:00:00Z") == []
        assert len(await dead("&until=2999-01-01T00:00:00%2B00:00")) == 3

        [refund] = await dead("&event_type=refunds/*")
        status, discarded = await api_post(
            http, gateway, token, f"/api/v1/deliveries/{refund['id']}/discard"
        )
        assert (status, discarded["status"]) == (200, "cancelled")

        down.statuses = [200]
        status, accepted = await api_post(
            http, gateway, token, "/api/v1/deliveries/retry", {"event_type": "orders/*"}
        )
        assert status == 202
        job_path = f"/api/v1/jobs/{accepted['job_id']}"
        assert accepted["status_url"] == job_path

        async def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = await api_get(http, gateway, token, job_path)
            return job if job["state"] == "succeeded" else None

        job = await until(finished)
        assert (job["kind"], job["total"], job["done"]) == ("retry_dead", 2, 2)
        await until(lambda: _at_least(_succeeded(http, gateway, token), 2))
        assert await dead() == []
    finally:
        await down.stop()


async def _at_least(items: Any, count: int) -> bool:
    return len(await items) >= count


async def _succeeded(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str
) -> list[dict[str, Any]]:
    page = await api_get(http, gateway, token, "/api/v1/deliveries?status=succeeded")
    return list(page["data"])


async def test_an_event_is_replayed_and_a_source_range_catches_a_new_subscriber_up(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    newcomer_sink = await Sink().start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        await register(http, gateway, token, sink.url)
        first = await send(http, gateway, 1)
        for n in range(2, 4):
            await send(http, gateway, n)
        await wait_for_status(http, gateway, token, "succeeded", count=3)

        status, replayed = await api_post(http, gateway, token, f"/api/v1/events/{first}/replay")
        assert status == 202 and len(replayed["delivery_ids"]) == 1
        received = await sink.wait_for(4)
        assert received[3].headers["webhook-id"] == first

        newcomer = await register(http, gateway, token, newcomer_sink.url, name="newcomer")
        status, accepted = await api_post(
            http,
            gateway,
            token,
            "/api/v1/events/replay",
            {"source": "shop", "subscriber_id": newcomer["id"], "since": "2000-01-01T00:00:00Z"},
        )
        assert status == 202
        caught_up = await newcomer_sink.wait_for(3)
        assert sorted(orjson.loads(r.body)["id"] for r in caught_up) == [1, 2, 3]
        job = await api_get(http, gateway, token, f"/api/v1/jobs/{accepted['job_id']}")
        assert job["total"] == 3
    finally:
        await newcomer_sink.stop()


async def test_a_subscriber_answering_410_is_disabled_visibly_and_can_be_resumed(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession
) -> None:
    gone = await Sink(statuses=[410]).start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        sub = await register(http, gateway, token, gone.url)
        await send(http, gateway, 1)

        async def disabled() -> dict[str, Any] | None:
            shown: dict[str, Any] = await api_get(
                http, gateway, token, f"/api/v1/subscribers/{sub['id']}"
            )
            return shown if shown["state"] == "disabled" else None

        shown = await until(disabled)
        assert shown["state_reason"] == "the endpoint answered 410 Gone"
        async with http.get(f"{gateway.admin}/metrics") as r:
            metrics = await r.text()
        assert 'gateway_subscriber_disabled{subscriber="warehouse"} 1.0' in metrics

        gone.statuses = [200]
        status, resumed = await api_post(
            http, gateway, token, f"/api/v1/subscribers/{sub['id']}/resume"
        )
        assert status == 200 and resumed["state"] == "active"
        await gone.wait_for(2)
    finally:
        await gone.stop()


async def test_an_open_circuit_shows_in_the_api_and_the_metrics(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession
) -> None:
    down = await Sink(statuses=[503]).start()
    try:
        config = base_config(
            database_url,
            delivery={
                "circuit_consecutive_failures": 3,
                "circuit_cooldown_seconds": 600,
                "max_attempts": 10,
            },
        )
        gateway = start_gateway(config)
        token = gateway.token("admin")
        sub = await register(http, gateway, token, down.url, max_in_flight=1)
        for n in range(5):
            await send(http, gateway, n)

        async def open_circuit() -> dict[str, Any] | None:
            shown: dict[str, Any] = await api_get(
                http, gateway, token, f"/api/v1/subscribers/{sub['id']}"
            )
            return shown if shown["flow"]["circuit_state"] == "open" else None

        shown = await until(open_circuit)
        assert shown["flow"]["consecutive_failures"] == 3
        assert shown["flow"]["circuit_open_until"]
        assert len(down.received) == 3
        async with http.get(f"{gateway.admin}/metrics") as r:
            metrics = await r.text()
        assert 'gateway_subscriber_circuit_open{subscriber="warehouse"} 1.0' in metrics
    finally:
        await down.stop()


async def test_allowlisted_inbound_headers_are_forwarded(
    start_gateway: Start, database_url: str, http: aiohttp.ClientSession, sink: Sink
) -> None:
    other = await Sink().start()
    try:
        config = base_config(database_url, delivery={"forward_headers": ["X-Shopify-Topic"]})
        gateway = start_gateway(config)
        token = gateway.token("admin")
        await register(http, gateway, token, sink.url, headers={"Authorization": "Bearer wms"})
        await register(
            http,
            gateway,
            token,
            other.url,
            name="erp",
            forward_headers=["X-Shopify-Shop-Domain"],
        )
        await send(http, gateway, 1)
        [default] = await sink.wait_for(1)
        [own] = await other.wait_for(1)
    finally:
        await other.stop()
    sent = {k.lower(): v for k, v in default.headers.items()}
    sent_own = {k.lower(): v for k, v in own.headers.items()}
    assert sent["x-shopify-topic"] == "orders/create"
    assert "x-shopify-shop-domain" not in sent
    assert "x-shopify-hmac-sha256" not in sent
    assert sent["authorization"] == "Bearer wms"
    assert sent["x-gateway-event-type"] == "orders/create"
    assert sent_own["x-shopify-shop-domain"] == "example.myshopify.com"
    assert "x-shopify-topic" not in sent_own
