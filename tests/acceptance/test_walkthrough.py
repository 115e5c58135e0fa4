"""The README walkthrough, run against the real ``webhook-gateway serve``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import orjson
from standardwebhooks.webhooks import Webhook

from testkit.adminapi import register
from testkit.processes import GatewayProcess
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import api_get, send_order, wait_for_status

ORDER = orjson.dumps(
    {"id": 820982911946154508, "email": "jon@example.com", "total_price": "254.98"}
)


async def test_subscriber_receives_the_original_body_signed_for_its_secret(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    subscriber = await register(http, gateway, token, sink.url, event_types=["orders/*"])
    assert subscriber["id"].startswith("sub_")
    assert subscriber["secret"].startswith("whsec_")

    status, answer = await send_order(http, gateway, ORDER, "wh-1")
    assert status == 202
    assert answer["duplicate"] is False
    assert answer["event_id"].startswith("evt_")

    [received] = await sink.wait_for(1)
    assert received.body == ORDER
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["webhook-id"] == answer["event_id"]
    verified = Webhook(subscriber["secret"]).verify(received.body, received.headers)
    assert verified["total_price"] == "254.98"

    listed = await api_get(http, gateway, token, f"/api/v1/subscribers/{subscriber['id']}")
    assert "secret" not in listed


async def test_subscriber_whose_filter_does_not_match_receives_nothing(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    await register(http, gateway, token, sink.url, event_types=["refunds/*"])
    status, answer = await send_order(http, gateway, ORDER, "wh-1")
    assert status == 202
    page = await api_get(http, gateway, token, f"/api/v1/deliveries?event_id={answer['event_id']}")
    assert page["data"] == []


async def test_a_resent_webhook_is_a_duplicate_with_the_first_event_id_and_no_new_delivery(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url))
    token = gateway.token("admin")
    await register(http, gateway, token, sink.url)

    first_status, first = await send_order(http, gateway, ORDER, "wh-dup")
    again_status, again = await send_order(http, gateway, ORDER, "wh-dup")
    assert (first_status, again_status) == (202, 200)
    assert again == {"event_id": first["event_id"], "duplicate": True}
    # Shopify signs the body alone: the same body under another id is a replay.
    replayed_status, replayed = await send_order(http, gateway, ORDER, "wh-replayed")
    assert (replayed_status, replayed) == (200, again)

    raced = orjson.dumps({"id": 820982911946154509, "total_price": "12.00"})
    together = await asyncio.gather(
        *(send_order(http, gateway, raced, "wh-race") for _ in range(20))
    )
    statuses = sorted(status for status, _ in together)
    assert statuses == [200] * 19 + [202]
    assert len({answer["event_id"] for _, answer in together}) == 1

    await wait_for_status(http, gateway, token, "succeeded", count=2)
    await asyncio.sleep(0.5)  # time for any wrongly duplicated delivery to show up
    deliveries = await api_get(http, gateway, token, "/api/v1/deliveries")
    assert len(deliveries["data"]) == 2
    assert len(sink.received) == 2


async def test_a_failing_subscriber_is_retried_with_backoff_until_it_recovers(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    flaky = await Sink(statuses=[500, 500, 200]).start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        await register(http, gateway, token, flaky.url)
        await send_order(http, gateway, ORDER, "wh-flaky")
        [delivery] = await wait_for_status(http, gateway, token, "succeeded")
        detail = await api_get(http, gateway, token, f"/api/v1/deliveries/{delivery['id']}")
    finally:
        await flaky.stop()
    attempts = detail["attempt_log"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert [a["outcome"] for a in attempts] == ["http_error", "http_error", "success"]
    assert all(a["duration_ms"] >= 0 and a["started_at"] for a in attempts)
    assert len({r.headers["webhook-id"] for r in flaky.received}) == 1


async def test_an_exhausted_delivery_is_dead_listed_and_sent_again_on_retry(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    down = await Sink(statuses=[503, 503, 503, 503, 200]).start()
    try:
        gateway = start_gateway(base_config(database_url))
        token = gateway.token("admin")
        await register(http, gateway, token, down.url, max_attempts=4)
        await send_order(http, gateway, ORDER, "wh-dead")
        [dead] = await wait_for_status(http, gateway, token, "dead")
        assert dead["attempts"] == 4
        async with http.post(
            f"{gateway.admin}/api/v1/deliveries/{dead['id']}/retry",
            headers={"Authorization": f"Bearer {gateway.token('replay')}"},
        ) as response:
            assert response.status == 202
        [done] = await wait_for_status(http, gateway, token, "succeeded")
    finally:
        await down.stop()
    assert done["id"] == dead["id"]
    assert done["total_attempts"] == 5
    assert len(down.received) == 5


async def test_a_delivery_to_a_private_address_is_refused_unless_allowed(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
) -> None:
    gateway = start_gateway(base_config(database_url, delivery={"allowed_private_cidrs": []}))
    token = gateway.token("admin")
    async with http.post(
        f"{gateway.admin}/api/v1/subscribers",
        json={"name": "internal", "url": sink.url},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        problem = await response.json(content_type=None)
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    assert "private or reserved" in problem["detail"]
