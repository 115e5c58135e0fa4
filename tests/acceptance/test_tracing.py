"""Traces of a running gateway, read by a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import psutil
import pytest

from testkit.adminapi import register
from testkit.otlp import Collector, ReceivedSpan
from testkit.polling import until
from testkit.processes import GatewayProcess, free_port
from testkit.scrape import Scrape, scrape_until
from testkit.senders import shopify
from testkit.sinks import Sink
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, api_get, console_page, send_order

ORDER = orjson.dumps({"id": 2001, "total_price": "3.00"})
RESHAPE = "function handler(request) { return {body: {order: request.body.id}}; }"
SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"


def traced_config(database_url: str, endpoint: str, **tracing: Any) -> dict[str, Any]:
    settings = {"enabled": True, "endpoint": endpoint, "sampling_ratio": 1.0, **tracing}
    return base_config(database_url, tracing=settings)


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    c = await Collector().start()
    yield c
    await c.stop()


def one(spans: list[ReceivedSpan], name: str, **attributes: Any) -> ReceivedSpan:
    found = [
        s
        for s in spans
        if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, attributes, [(s.name, s.attributes) for s in spans])
    return found[0]


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[str]:
    return sorted(s.name for s in spans if s.parent_id == parent.span_id)


def settled_twice(spans: list[ReceivedSpan]) -> bool:
    return sum(s.name == "attempt" for s in spans) >= 2 and any(s.name == "ingest" for s in spans)


async def test_a_webhook_delivered_after_one_retry_is_one_trace_of_its_ingest_and_two_attempts(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector: Collector,
) -> None:
    warehouse = await Sink([500, 200]).start()
    quiet = await Sink([200]).start()
    try:
        gateway = start_gateway(traced_config(database_url, collector.endpoint))
        token = gateway.token()
        await register(http, gateway, token, warehouse.url, name="warehouse")
        await register(
            http, gateway, token, quiet.url, name="erp", send_traceparent=False,
            transform={"source": RESHAPE},
        )  # fmt: skip
        status, answer = await send_order(http, gateway, ORDER, "order-traced")
        assert status == 202
        event_id = answer["event_id"]
        arrivals = await warehouse.wait_for(2)
        (unheaded,) = await quiet.wait_for(1)
        spans = await collector.wait_for(
            lambda s: (
                sum(x.name == "attempt" for x in s) >= 3 and any(x.name == "ingest" for x in s)
            )
        )
    finally:
        await warehouse.stop()
        await quiet.stop()

    assert {s.trace_id for s in spans} == {spans[0].trace_id}
    trace_id = spans[0].trace_id
    assert {s.service for s in spans} == {"webhook-gateway"}
    ingest = one(spans, "ingest")
    assert ingest.parent_id == ""
    assert ingest.attributes["gateway.source"] == "shop"
    assert ingest.attributes["gateway.event.id"] == event_id
    assert ingest.attributes["gateway.outcome"] == "accepted"
    assert ingest.attributes["http.response.status_code"] == 202
    assert children(spans, ingest) == ["attempt", "attempt", "attempt", "checks", "group commit"]

    failed = one(spans, "attempt", **{"gateway.subscriber": "warehouse", "gateway.attempt": 1})
    delivered = one(spans, "attempt", **{"gateway.subscriber": "warehouse", "gateway.attempt": 2})
    for attempt in (failed, delivered):
        assert attempt.parent_id == ingest.span_id
        assert attempt.attributes["gateway.event.id"] == event_id
        assert children(spans, attempt) == ["claim wait", "request", "settlement"]
    assert failed.attributes["gateway.outcome"] == "http_error"
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["gateway.next"] == "pending"
    assert failed.status_code == 2
    assert delivered.attributes["gateway.outcome"] == "success"
    assert delivered.attributes["http.response.status_code"] == 200
    assert delivered.attributes["gateway.next"] == "succeeded"
    request = next(s for s in spans if s.name == "request" and s.parent_id == failed.span_id)
    assert request.attributes["http.response.status_code"] == 500
    assert delivered.start_ns >= request.end_ns  # due after the first answer, by the backoff

    sent = [a.headers.get("traceparent") for a in arrivals]
    assert sent == [f"00-{trace_id}-{failed.span_id}-01", f"00-{trace_id}-{delivered.span_id}-01"]
    assert "traceparent" not in {k.lower() for k in unheaded.headers}
    assert orjson.loads(unheaded.body) == {"order": 2001}
    reshaped = one(spans, "attempt", **{"gateway.subscriber": "erp"})
    assert children(spans, reshaped) == ["claim wait", "request", "settlement", "transform"]

    shown = await api_get(http, gateway, token, f"/api/v1/events/{event_id}")
    assert shown["trace_id"] == trace_id
    listed = await api_get(http, gateway, token, "/api/v1/events?source=shop")
    assert [(e["id"], e["trace_id"]) for e in listed["data"]] == [(event_id, trace_id)]
    assert trace_id in await console_page(gateway, token, f"/console/events/{event_id}")


async def test_a_sender_traceparent_is_linked_not_continued_by_default(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector: Collector,
) -> None:
    gateway = start_gateway(traced_config(database_url, collector.endpoint))
    headers = shopify(SHOP_SECRET, ORDER, "order-linked")
    headers["traceparent"] = f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=ORDER, headers=headers) as r:
        assert r.status == 202
    spans = await collector.wait_for(lambda s: any(x.name == "ingest" for x in s))
    ingest = one(spans, "ingest")
    assert ingest.trace_id != SENDER_TRACE
    assert ingest.parent_id == ""
    assert ingest.links == [(SENDER_TRACE, SENDER_SPAN)]


async def test_a_trusted_sender_traceparent_makes_the_event_part_of_the_sender_trace(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector: Collector,
) -> None:
    gateway = start_gateway(traced_config(database_url, collector.endpoint, inbound="trust"))
    headers = shopify(SHOP_SECRET, ORDER, "order-trusted")
    headers["traceparent"] = f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=ORDER, headers=headers) as r:
        assert r.status == 202
        event_id = (await r.json())["event_id"]
    spans = await collector.wait_for(lambda s: any(x.name == "ingest" for x in s))
    ingest = one(spans, "ingest")
    assert (ingest.trace_id, ingest.parent_id) == (SENDER_TRACE, SENDER_SPAN)
    shown = await api_get(http, gateway, gateway.token(), f"/api/v1/events/{event_id}")
    assert shown["trace_id"] == SENDER_TRACE


async def test_an_unsampled_event_stores_no_trace_id_and_sends_no_spans(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector: Collector,
    sink: Sink,
) -> None:
    gateway = start_gateway(traced_config(database_url, collector.endpoint, sampling_ratio=0.0))
    token = gateway.token()
    await register(http, gateway, token, sink.url)
    status, answer = await send_order(http, gateway, ORDER, "order-unsampled")
    assert status == 202
    (arrival,) = await sink.wait_for(1)
    assert "traceparent" not in {k.lower() for k in arrival.headers}
    shown = await api_get(http, gateway, token, f"/api/v1/events/{answer['event_id']}")
    assert shown["trace_id"] is None
    await asyncio.sleep(1.5)  # longer than the export's schedule
    assert collector.span_count == 0


@pytest.mark.parametrize("collector_is", ["refusing", "hung"])
async def test_a_dead_collector_costs_webhooks_nothing_but_dropped_spans(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector_is: str,
) -> None:
    hung = await Collector("hang").start()
    endpoint = hung.endpoint if collector_is == "hung" else f"http://127.0.0.1:{free_port()}"
    try:
        config = traced_config(
            database_url, endpoint, export_timeout_seconds=0.5, max_queue_size=20
        )
        gateway = start_gateway(config)
        began = time.monotonic()
        for n in range(60):
            body = orjson.dumps({"id": 3000 + n})
            status, _ = await send_order(http, gateway, body, f"order-dead-{n}")
            assert status == 202
        assert time.monotonic() - began < 10

        def dropped(metrics: Scrape) -> float:
            return sum(metrics.by("gateway_trace_spans_dropped_total", "reason").values())

        await scrape_until(http, gateway.admin, lambda m: dropped(m) > 0)
        assert gateway.stop() == 0
        failures = [line for line in gateway.logs().splitlines() if "opentelemetry" in line]
        assert len(failures) <= 3  # the SDK's export loggers: a line a minute each at most
    finally:
        await hung.stop()


def exporter_of(gateway: GatewayProcess) -> psutil.Process:
    """The gateway's trace exporter process."""
    (found,) = [
        child
        for child in psutil.Process(gateway.pid).children()
        if "gateway.observability.exporter" in " ".join(child.cmdline())
    ]
    return found


@pytest.mark.parametrize("ended_by", [signal.SIGTERM, signal.SIGKILL])
async def test_the_exporter_process_holds_no_listener_and_ends_with_the_gateway(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    collector: Collector,
    ended_by: signal.Signals,
) -> None:
    gateway = start_gateway(traced_config(database_url, collector.endpoint))
    exporter = exporter_of(gateway)
    assert not [c for c in exporter.net_connections("all") if c.status == psutil.CONN_LISTEN]
    assert not [c for c in exporter.net_connections("inet")]
    status, _ = await send_order(http, gateway, ORDER, f"order-ended-{ended_by.name}")
    assert status == 202
    if ended_by == signal.SIGTERM:  # what it held is sent before it ends
        assert await asyncio.to_thread(gateway.stop) == 0
        names = {s.name for s in collector.spans}
        assert {"ingest", "checks", "group commit"} <= names
    else:
        gateway.kill()
    await until(lambda: not exporter.is_running(), 10, what="the exporter's end")
