"""What an operator sees of a running gateway: metrics, the alert kit, logs, readiness."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import yaml

from testkit.adminapi import register
from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.scrape import Scrape, metric_names, scrape, scrape_until
from testkit.sinks import Sink
from testkit.tcpproxy import FaultProxy
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import SHOP_SECRET, send_order

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "webhook-gateway.json"
ORDER = orjson.dumps({"id": 1001, "total_price": "12.00"})


def observed_config(database_url: str, **overrides: dict[str, Any]) -> dict[str, Any]:
    return base_config(database_url, metrics={"backlog_interval_seconds": 0.2}, **overrides)


@pytest.fixture
async def failing_sink() -> AsyncIterator[Sink]:
    s = await Sink([404]).start()
    yield s
    await s.stop()


async def traffic(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, ok: Sink, failing: Sink
) -> list[dict[str, Any]]:
    """One event to two subscribers (one recovers, one never does), a duplicate, refusals.

    Returns the two subscribers as registered (with their signing secrets).
    """
    registered = [
        await register(http, gateway, token, ok.url, name="warehouse"),
        await register(http, gateway, token, failing.url, name="erp"),
    ]
    assert (await send_order(http, gateway, ORDER, "order-1"))[0] == 202
    assert (await send_order(http, gateway, ORDER, "order-1"))[0] == 200
    forged = {"X-Shopify-Hmac-Sha256": "AAAA", "X-Shopify-Webhook-Id": "order-2"}
    async with http.post(f"{gateway.ingress}/webhooks/v1/shop", data=ORDER, headers=forged) as r:
        assert r.status == 401
    async with http.post(f"{gateway.ingress}/webhooks/v1/nowhere", data=ORDER) as r:
        assert r.status == 404
    await scrape_until(
        http,
        gateway.admin,
        lambda s: (
            s.value("gateway_delivery_end_to_end_seconds_count", subscriber="warehouse") == 1
            and s.value("gateway_delivery_dead_total", subscriber="erp") == 1
        ),
    )
    return registered


def delta(before: Scrape, after: Scrape, name: str, label: str, **labels: str) -> dict[str, float]:
    old = before.by(name, label, **labels)
    changed = {k: v - old.get(k, 0.0) for k, v in after.by(name, label, **labels).items()}
    return {k: v for k, v in changed.items() if v}


async def test_metrics_move_as_webhooks_arrive_and_deliveries_succeed_retry_and_die(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    failing_sink: Sink,
) -> None:
    ok = await Sink([500, 200]).start()
    try:
        gateway = start_gateway(observed_config(database_url))
        token = gateway.token("admin")
        before = await scrape(http, gateway.admin)

        await traffic(http, gateway, token, ok, failing_sink)
        after = await scrape_until(
            http,
            gateway.admin,
            lambda s: s.value("gateway_deliveries_backlog", subscriber="erp", status="dead") == 1,
        )
    finally:
        await ok.stop()

    ingest = "gateway_ingest_requests_total"
    assert delta(before, after, ingest, "outcome", source="shop") == {
        "accepted": 1,
        "duplicate": 1,
        "signature-invalid": 1,
    }
    assert delta(before, after, ingest, "source", outcome="unknown-source") == {"(unknown)": 1}
    assert after.value("gateway_ack_latency_seconds_count", source="shop") == 2
    attempts = "gateway_delivery_attempts_total"
    assert delta(before, after, attempts, "outcome", subscriber="warehouse") == {"5xx": 1, "2xx": 1}
    failed = len(failing_sink.received)
    assert delta(before, after, attempts, "outcome", subscriber="erp") == {"4xx": failed}
    assert after.value("gateway_delivery_dead_total", subscriber="erp") == 1
    assert after.value("gateway_delivery_dead_total", subscriber="warehouse") == 0
    assert after.value("gateway_delivery_retries_scheduled_total", subscriber="warehouse") == 1
    assert after.value("gateway_delivery_retries_scheduled_total", subscriber="erp") == failed - 1
    assert after.value("gateway_delivery_end_to_end_seconds_count", subscriber="warehouse") == 1
    assert (
        after.value("gateway_delivery_attempt_duration_seconds_count", subscriber="erp") == failed
    )
    batches = after.value("gateway_writer_batch_size_count")
    assert batches >= 1
    assert after.value("gateway_writer_wait_seconds_count") == batches  # one per batch
    assert after.value("gateway_event_loop_lag_seconds_count") >= 1
    attempted = 2 + failed
    settled = await scrape_until(  # the last settlement is timed once its commit returned
        http,
        gateway.admin,
        lambda s: s.value("gateway_delivery_settle_size_sum") == attempted,
    )
    assert settled.value("gateway_delivery_claim_size_sum") == attempted  # one lease each
    claims = settled.value("gateway_delivery_claim_size_count")
    assert claims >= 2  # the warehouse's retry came later than its first attempt
    assert settled.value("gateway_delivery_claim_seconds_count") == claims
    settlements = settled.value("gateway_delivery_settle_size_count")
    assert 2 <= settlements <= attempted
    assert settled.value("gateway_delivery_settle_seconds_count") == settlements
    assert settled.value("gateway_delivery_claim_wait_seconds_count") == 2  # first attempts only
    assert settled.value("gateway_delivery_claim_wait_seconds_sum") > 0
    assert after.by("gateway_deliveries_backlog", "status", subscriber="warehouse") == {
        "queued": 0,
        "pending": 0,
        "in_flight": 0,
        "dead": 0,
    }
    assert after.by("gateway_subscriber_disabled", "subscriber") == {"warehouse": 0, "erp": 0}
    assert after.by("gateway_build_info", "version")

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE subscribers SET state = 'disabled' WHERE name = 'erp'")
    finally:
        await conn.close()
    disabled = await scrape_until(
        http, gateway.admin, lambda s: s.value("gateway_subscriber_disabled", subscriber="erp") == 1
    )
    assert disabled.value("gateway_subscriber_disabled", subscriber="warehouse") == 0


async def test_every_metric_the_alerts_and_the_dashboard_name_is_exported(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    alerts = yaml.safe_load(ALERTS.read_text())
    expressions = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    named = metric_names("\n".join(expressions + queries))
    assert len(named) > 15

    gateway = start_gateway(observed_config(database_url))
    for n in range(3):
        order = orjson.dumps({"id": 1001 + n, "total_price": "12.00"})
        assert (await send_order(http, gateway, order, f"order-{n}"))[0] == 202
    exported = await scrape(http, gateway.admin)

    assert {name for name in named if not exported.exports(name)} == set()
    assert metric_names("\n".join(expressions)) <= named  # every alert is on the dashboard too


async def test_log_lines_are_json_and_never_show_a_secret(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    failing_sink: Sink,
) -> None:
    ok = await Sink([500, 200]).start()
    try:
        gateway = start_gateway(
            observed_config(database_url, log={"level": "DEBUG", "format": "json"})
        )
        token = gateway.token("admin")
        registered = await traffic(http, gateway, token, ok, failing_sink)
    finally:
        await ok.stop()
    jwt_key = tomllib.loads(gateway.config_path.read_text())["api"]["jwt_secret"]
    assert gateway.stop() == 0

    text = gateway.logs()
    lines = text.splitlines()
    entries = [orjson.loads(line) for line in lines]
    signing = [s["secret"] for s in registered]
    for secret in [
        SHOP_SECRET,
        jwt_key,
        token,
        *signing,
        *(s.removeprefix("whsec_") for s in signing),
    ]:
        assert secret not in text
    requests = [e for e in entries if e["msg"] == "request" and e.get("event_id")]
    assert {(e["source"], e["status"]) for e in requests} == {("shop", 202), ("shop", 200)}
    assert all(e["duration_ms"] >= 0 for e in requests)
    refused = {e["status"]: e.get("problem") for e in entries if e["msg"] == "request"}
    assert refused[401] == "signature-invalid"
    assert refused[404] == "unknown-source"
    attempts = [e for e in entries if e["msg"] == "delivery attempt"]
    assert {e["subscriber"] for e in attempts} == {"warehouse", "erp"}
    assert all(e["delivery_id"].startswith("dlv_") for e in attempts)


async def test_at_info_only_refusals_and_failed_attempts_are_logged_per_request(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    failing_sink: Sink,
) -> None:
    ok = await Sink([500, 200]).start()
    try:
        gateway = start_gateway(observed_config(database_url, log={"level": "INFO"}))
        await traffic(http, gateway, gateway.token("admin"), ok, failing_sink)
    finally:
        await ok.stop()
    assert gateway.stop() == 0
    entries = [orjson.loads(line) for line in gateway.logs().splitlines()]
    requests = {e["status"] for e in entries if e["msg"] == "request"}
    assert requests == {401, 404}  # neither the 202 nor the duplicate's 200
    attempts = [(e["subscriber"], e["outcome"]) for e in entries if e["msg"] == "delivery attempt"]
    assert ("warehouse", "http_error") in attempts  # its first, failed attempt
    assert all(outcome != "success" for _, outcome in attempts)
    assert {subscriber for subscriber, _ in attempts} == {"warehouse", "erp"}


async def test_readiness_names_the_database_while_it_is_away_and_recovers(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    proxy = await FaultProxy(database_url).start()
    try:
        config = observed_config(proxy.url, database={"connect_timeout_seconds": 1})
        gateway = await asyncio.to_thread(start_gateway, config)

        proxy.sever()
        _, problem = await wait_for_readiness(http, gateway, 503)
        assert problem["status"] == 503
        assert any(check.startswith("database") for check in problem["checks"])
        assert "database" in problem["detail"]
        async with http.get(f"{gateway.admin}/healthz") as r:
            assert r.status == 200  # alive all the same: no restart for a database outage

        proxy.restore()
        _, body = await wait_for_readiness(http, gateway, 200)
        assert body == {"status": "ready"}
    finally:
        await proxy.stop()


async def wait_for_readiness(
    http: aiohttp.ClientSession, gateway: GatewayProcess, wanted: int, timeout: float = 30.0
) -> tuple[int, Any]:
    async def answered() -> tuple[int, Any] | None:
        async with http.get(f"{gateway.admin}/readyz") as r:
            return (r.status, await r.json(content_type=None)) if r.status == wanted else None

    return await until(answered, timeout, 0.1, what=f"/readyz to answer {wanted}")
