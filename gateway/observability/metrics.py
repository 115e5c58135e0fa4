"""Metrics: prometheus-client, one registry per gateway.

Labels stay bounded: subscriber and source names, outcomes from fixed sets, never ids
or URLs. Every process exposes its own series; the backlog gauges are read from the
database on a timer (``gateway.maintenance.backlog``), so any replica reports the whole backlog.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = ["ATTEMPT_OUTCOMES", "RETENTION_KINDS", "Children", "Metrics", "attempt_outcome"]

# Buckets from milliseconds to minutes (hours for end to end, which spans retries).
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60)
_E2E_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    *(300, 900, 1800, 3600, 7200, 21600, 86400),
)
_WAIT_BUCKETS = (0.001, 0.0025, 0.005, *_E2E_BUCKETS)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

ATTEMPT_OUTCOMES = (
    *("2xx", "redirect", "4xx", "5xx", "timeout", "connection_error", "blocked", "tls_error"),
    *("broker_nack", "unroutable", "broker_error"),
)
"""The ``outcome`` label values of delivery attempts (plus ``other`` for the unforeseen).
An attempt into a broker that the broker confirmed is ``2xx`` too: every success has one
label, whatever the destination's kind (the ``kind`` label tells them apart)."""
RETENTION_KINDS = ("events", "deliveries", "dead_letters", "attempts", "revoked_tokens")
_STATUS_CLASSES = {2: "2xx", 3: "redirect", 4: "4xx", 5: "5xx"}
_PASSED_THROUGH = frozenset(
    {"timeout", "connection_error", "blocked", "tls_error", "transform_error"}
    | {"skipped_by_transform", "broker_nack", "unroutable", "broker_error"}
)


def attempt_outcome(outcome: str, status_code: int | None = None) -> str:
    """The bounded metric label of one attempt: its status class, or how it failed.

    ``outcome`` and ``status_code`` are those of the attempt's result (``success``,
    ``http_error``, ``redirect``, ``timeout``, ``connection_error``, ``blocked``,
    ``tls_error``; a
    broker's ``broker_nack``, ``unroutable``, ``broker_error``; and the two that send
    nothing: ``transform_error``, ``skipped_by_transform``).
    """
    if outcome in _PASSED_THROUGH:
        return outcome
    if status_code is not None:
        return _STATUS_CLASSES.get(status_code // 100, "other")
    return {"success": "2xx", "redirect": "redirect"}.get(outcome, "other")


M = TypeVar("M", Counter, Gauge, Histogram)


class Children(Generic[M]):
    """A labelled metric's children, each looked up once: ``labels()`` takes a lock and
    builds a key on every call, which the hot paths need not pay per request."""

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._found: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._found.get(values)
        if child is None:
            child = self._found[values] = self._metric.labels(*values)
        return child


class Metrics:
    """Every metric the gateway exports, registered in its own registry."""

    def __init__(self, version: str = "0") -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        Info("gateway_build", "Build information.", registry=r).info(
            {"version": version, "python": platform.python_version()}
        )
        self._ingress(r)
        self._sources(r)
        self._delivery(r)
        self._backlog(r)
        self._retention(r)
        self._operational(r)
        self.db_pool_in_use = Gauge(
            "gateway_db_pool_in_use",
            "Database connections in use, by pool (shared, writer, queue).",
            ["pool"],
            registry=r,
        )
        self.trace_spans_dropped = Counter(
            "gateway_trace_spans_dropped",
            "Trace spans not exported, by reason (queue_full: the export queue was full; "
            "export_failed: the collector refused or did not answer).",
            ["reason"],
            registry=r,
        )
        for reason in ("queue_full", "export_failed"):
            self.trace_spans_dropped.labels(reason)
        self.db_pool_size = Gauge(
            "gateway_db_pool_size",
            "Database connections open, by pool (shared, writer, queue).",
            ["pool"],
            registry=r,
        )

    def _ingress(self, r: CollectorRegistry) -> None:
        self.ingest_requests = Counter(
            "gateway_ingest_requests",
            "Inbound webhook requests by source and outcome (accepted, duplicate, or why not).",
            ["source", "outcome"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "gateway_ack_latency_seconds",
            "Time from request start to the answer, for stored events.",
            ["source"],
            buckets=_ACK_BUCKETS,
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
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.writer_wait_seconds = Histogram(
            "gateway_writer_wait_seconds",
            "Time the oldest event of each group commit waited before its statement began.",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.loop_lag_seconds = Histogram(
            "gateway_event_loop_lag_seconds",
            "How late the event loop ran a timer, measured every 50 ms (CPU overload).",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.writer_queue_depth = Gauge(
            "gateway_writer_queue_depth", "Events waiting for the writer.", registry=r
        )

    def _sources(self, r: CollectorRegistry) -> None:
        self.source_messages = Counter(
            "gateway_source_messages",
            "Messages read from a source's queue, by source and outcome (received; then "
            "stored, duplicate, not_stored: left to come back, or poison: left to the "
            "queue's dead-letter policy).",
            ["source", "outcome"],
            registry=r,
        )
        self.source_up = Gauge(
            "gateway_source_up",
            "1 while this process reads the source's queue, 0 while it cannot reach it.",
            ["source", "kind"],
            registry=r,
        )
        self.source_in_flight = Gauge(
            "gateway_source_in_flight",
            "Messages this process holds from the source's queue, not yet stored and "
            "deleted (SQS) or acknowledged (AMQP).",
            ["source"],
            registry=r,
        )

    def _delivery(self, r: CollectorRegistry) -> None:
        self.delivery_attempts = Counter(
            "gateway_delivery_attempts",
            "Delivery attempts by subscriber, outcome (see attempt_outcome) and destination "
            "kind (http, amqp, sqs).",
            ["subscriber", "outcome", "kind"],
            registry=r,
        )
        self.attempt_duration = Histogram(
            "gateway_delivery_attempt_duration_seconds",
            "Duration of one delivery attempt.",
            ["subscriber"],
            buckets=_ATTEMPT_BUCKETS,
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
        self.claim_seconds = Histogram(
            "gateway_delivery_claim_seconds",
            "Round trip of one claim (the statement that leases due deliveries).",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.claim_size = Histogram(
            "gateway_delivery_claim_size",
            "Deliveries leased by one claim (0 when nothing was due or allowed).",
            buckets=(0, *_BATCH_BUCKETS),
            registry=r,
        )
        self.claim_wait = Histogram(
            "gateway_delivery_claim_wait_seconds",
            "From a delivery's enqueue to its first claim: how far the dispatchers are "
            "behind (an ordered delivery's wait behind its key included).",
            buckets=_WAIT_BUCKETS,
            registry=r,
        )
        self.settle_seconds = Histogram(
            "gateway_delivery_settle_seconds",
            "Duration of one settlement (a batch of attempts recorded, their deliveries "
            "moved on, in one transaction).",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.settle_size = Histogram(
            "gateway_delivery_settle_size",
            "Attempts per settlement.",
            buckets=_BATCH_BUCKETS,
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
        self.circuit_open = Gauge(
            "gateway_subscriber_circuit_open",
            "1 while the subscriber's circuit breaker is open or probing (shared by all "
            "replicas, read from the database).",
            ["subscriber"],
            registry=r,
        )

    def _backlog(self, r: CollectorRegistry) -> None:
        self.deliveries_backlog = Gauge(
            "gateway_deliveries_backlog",
            "Deliveries by subscriber and status (queued, pending, in_flight, dead), from the "
            "database.",
            ["subscriber", "status"],
            registry=r,
        )
        self.subscriber_disabled = Gauge(
            "gateway_subscriber_disabled",
            "1 when the subscriber is disabled (no deliveries are sent), from the database.",
            ["subscriber"],
            registry=r,
        )
        self.backlog_refreshed = Gauge(
            "gateway_backlog_refreshed_timestamp_seconds",
            "When the backlog gauges were last read from the database (Unix time).",
            registry=r,
        )
        self._backlog_keys: set[tuple[str, str]] = set()
        self._subscribers: set[str] = set()

    def _operational(self, r: CollectorRegistry) -> None:
        self.operational_events = Counter(
            "gateway_operational_events",
            "The gateway's events about itself by kind and outcome: stored, duplicate "
            "(another replica stored it first), dropped (the queue was full), failed (the "
            "database refused or was away).",
            ["kind", "outcome"],
            registry=r,
        )

    def _retention(self, r: CollectorRegistry) -> None:
        self.retention_deleted = Counter(
            "gateway_retention_deleted",
            "Rows removed by retention, by kind (events take their deliveries along).",
            ["kind"],
            registry=r,
        )
        for kind in RETENTION_KINDS:
            self.retention_deleted.labels(kind)
        self.retention_runs = Counter(
            "gateway_retention_runs",
            "Retention rounds by result (completed, skipped: another replica held the lock, "
            "failed).",
            ["result"],
            registry=r,
        )
        for result in ("completed", "skipped", "failed"):
            self.retention_runs.labels(result)
        self.retention_last_run = Gauge(
            "gateway_retention_last_run_timestamp_seconds",
            "When this process last completed a retention round (Unix time).",
            registry=r,
        )
        self.retention_last_duration = Gauge(
            "gateway_retention_last_run_duration_seconds",
            "How long this process's last completed retention round took.",
            registry=r,
        )

    def set_backlog(
        self, counts: Iterable[tuple[str, str, int]], disabled: Iterable[tuple[str, bool]]
    ) -> None:
        """Replace the backlog gauges: (subscriber, status, count) and (subscriber, disabled).

        Series of subscribers that no longer exist are removed, so none lingers.
        """
        keys: set[tuple[str, str]] = set()
        for subscriber, status, count in counts:
            self.deliveries_backlog.labels(subscriber, status).set(count)
            keys.add((subscriber, status))
        for gone in self._backlog_keys - keys:
            self.deliveries_backlog.remove(*gone)
        self._backlog_keys = keys
        names: set[str] = set()
        for subscriber, is_disabled in disabled:
            self.subscriber_disabled.labels(subscriber).set(1 if is_disabled else 0)
            names.add(subscriber)
        for gone_name in self._subscribers - names:
            self.subscriber_disabled.remove(gone_name)
        self._subscribers = names
        self.backlog_refreshed.set_to_current_time()
