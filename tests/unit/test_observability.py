"""Metric labels stay bounded, gauges drop what is gone, and log lines hide credentials."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import generate_latest

from gateway.observability import (
    ATTEMPT_OUTCOMES,
    REDACTED,
    Metrics,
    attempt_outcome,
    configure_logging,
    log_event,
)


@pytest.mark.parametrize(
    ("outcome", "status_code", "label"),
    [
        ("success", 200, "2xx"),
        ("success", 204, "2xx"),
        ("redirect", 301, "redirect"),
        ("http_error", 404, "4xx"),
        ("http_error", 410, "4xx"),
        ("http_error", 429, "4xx"),
        ("http_error", 500, "5xx"),
        ("http_error", 503, "5xx"),
        ("timeout", None, "timeout"),
        ("connection_error", None, "connection_error"),
        ("blocked", None, "blocked"),
        ("tls_error", None, "tls_error"),
        ("success", None, "2xx"),
        ("something_new", None, "other"),
        ("http_error", 799, "other"),
    ],
)
def test_attempt_outcomes_map_to_a_bounded_set_of_labels(
    outcome: str, status_code: int | None, label: str
) -> None:
    assert attempt_outcome(outcome, status_code) == label
    assert label in (*ATTEMPT_OUTCOMES, "other")


def test_the_exported_names_are_the_ones_the_alerts_use() -> None:
    metrics = Metrics("1.2.3")
    metrics.ingest_requests.labels("shop", "accepted").inc()
    metrics.delivery_attempts.labels("wms", "2xx", "http").inc()
    metrics.dead_letters.labels("wms").inc()
    metrics.ack_latency.labels("shop").observe(0.004)
    metrics.set_backlog([("wms", "pending", 3)], [("wms", False)])
    text = generate_latest(metrics.registry).decode()
    for line in (
        'gateway_ingest_requests_total{outcome="accepted",source="shop"} 1.0',
        'gateway_delivery_attempts_total{kind="http",outcome="2xx",subscriber="wms"} 1.0',
        'gateway_delivery_dead_total{subscriber="wms"} 1.0',
        'gateway_ack_latency_seconds_bucket{le="0.005",source="shop"} 1.0',
        'gateway_deliveries_backlog{status="pending",subscriber="wms"} 3.0',
        'gateway_subscriber_disabled{subscriber="wms"} 0.0',
        'gateway_retention_deleted_total{kind="events"} 0.0',
    ):
        assert line in text
    assert 'gateway_build_info{python="' in text
    assert 'version="1.2.3"' in text


def test_backlog_series_of_a_subscriber_that_is_gone_disappear() -> None:
    metrics = Metrics()
    metrics.set_backlog(
        [("wms", "pending", 5), ("erp", "pending", 1)], [("wms", False), ("erp", True)]
    )
    metrics.set_backlog([("wms", "pending", 2)], [("wms", False)])
    sample = metrics.registry.get_sample_value
    assert sample("gateway_deliveries_backlog", {"subscriber": "wms", "status": "pending"}) == 2
    assert sample("gateway_deliveries_backlog", {"subscriber": "erp", "status": "pending"}) is None
    assert sample("gateway_subscriber_disabled", {"subscriber": "erp"}) is None
    assert sample("gateway_backlog_refreshed_timestamp_seconds") > 0


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def _configure(stream: io.StringIO, fmt: str, level: str = "INFO") -> None:
    configure_logging(level, fmt)
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_database_pools_failed_reconnection_is_one_line_naming_the_error(
    captured: io.StringIO, fmt: str
) -> None:
    _configure(captured, fmt)
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except OSError:
        logging.getLogger("asyncpg.pool").warning("Failed to restore the pool", exc_info=True)
    (line,) = captured.getvalue().splitlines()
    assert "Traceback" not in line
    assert "ConnectionRefusedError: [Errno 111] Connect call failed" in line
    if fmt == "json":
        assert orjson.loads(line)["error"].startswith("ConnectionRefusedError: ")


def test_json_lines_carry_the_fields_and_hide_any_that_names_a_credential(
    captured: io.StringIO,
) -> None:
    _configure(captured, "json")
    log_event(
        logging.getLogger("gateway.test"),
        logging.INFO,
        "delivery attempt",
        event_id="evt_1",
        status_code=200,
        secret="whsec_dont",
        api_key="k-dont",
        authorization="Bearer dont",
    )
    (line,) = captured.getvalue().splitlines()
    entry = orjson.loads(line)
    assert entry["msg"] == "delivery attempt"
    assert entry["level"] == "info"
    assert entry["event_id"] == "evt_1"
    assert entry["status_code"] == 200
    assert entry["secret"] == entry["api_key"] == entry["authorization"] == REDACTED
    assert "dont" not in line


def test_the_text_format_reads_as_one_line_per_event(captured: io.StringIO) -> None:
    _configure(captured, "text")
    log_event(logging.getLogger("gateway.test"), logging.WARNING, "hello", n=1, token="x")
    (line,) = captured.getvalue().splitlines()
    assert "WARNING" in line
    assert line.endswith(f"gateway.test: hello n=1 token={REDACTED}")


def test_a_disabled_level_writes_nothing(captured: io.StringIO) -> None:
    _configure(captured, "json", "WARNING")
    log_event(logging.getLogger("gateway.test"), logging.INFO, "quiet", n=1)
    assert captured.getvalue() == ""
