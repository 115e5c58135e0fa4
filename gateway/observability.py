"""Metrics (prometheus-client, one registry per gateway) and structured logging."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = ["Metrics", "configure_logging", "log_event"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_E2E_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 1800, 3600)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Every metric the gateway exports, registered in its own registry."""

    def __init__(self, version: str = "0") -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        Info("gateway_build", "Build information.", registry=r).info({"version": version})
        self.ingest_requests = Counter(
            "gateway_ingest_requests",
            "Inbound webhook requests by source and outcome.",
            ["source", "outcome"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "gateway_ack_latency_seconds",
            "Time from request start to the answer, for stored events.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.writer_batch_size = Histogram(
            "gateway_writer_batch_size",
            "Events per group commit.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.writer_commit_seconds = Histogram(
            "gateway_writer_commit_seconds",
            "Duration of one group commit.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.writer_queue_depth = Gauge(
            "gateway_writer_queue_depth", "Events waiting for the writer.", registry=r
        )
        self.delivery_attempts = Counter(
            "gateway_delivery_attempts",
            "Delivery attempts by subscriber and outcome.",
            ["subscriber", "outcome"],
            registry=r,
        )
        self.attempt_duration = Histogram(
            "gateway_delivery_attempt_duration_seconds",
            "Duration of one delivery attempt.",
            ["subscriber"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "gateway_delivery_end_to_end_seconds",
            "From receipt of an event to its first successful delivery.",
            ["subscriber"],
            buckets=_E2E_BUCKETS,
            registry=r,
        )
        self.retries_scheduled = Counter(
            "gateway_delivery_retries_scheduled",
            "Failed attempts that were scheduled for another try.",
            ["subscriber"],
            registry=r,
        )
        self.dead_letters = Counter(
            "gateway_delivery_dead",
            "Deliveries that exhausted their attempts.",
            ["subscriber"],
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_deliveries_in_flight_local", "Deliveries this process is sending.", registry=r
        )
        self.leases_expired = Counter(
            "gateway_leases_expired",
            "Claims returned to pending after their lease ran out.",
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "gateway_db_pool_in_use", "Database connections in use.", registry=r
        )


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        line = (
            f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        )
        line = f"{line} {extra}" if extra else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """One handler on stderr; JSON lines for machines, or text for a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def log_event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields`` (cheap when the level is disabled)."""
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"fields": fields})
