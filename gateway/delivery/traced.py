"""One delivery attempt of a traced event, as spans: the attempt (a child of the event's
ingest span, from the moment it was due), its wait for a claim, its transform, its
request (or publish) and its settlement, which ends when the settler has written it."""

from __future__ import annotations

import time
from typing import Any

from gateway.domain.broker_destination import destination_kind
from gateway.observability.tracing import OpenSpan, Tracing
from gateway.store.records import AttemptResult, ClaimedDelivery, Settlement

__all__ = ["AttemptTrace"]


def _ns(result: AttemptResult) -> tuple[int, int]:
    start = int(result.started_at.timestamp() * 1e9)
    return start, start + int(result.duration_ms * 1e6)


class AttemptTrace:
    """The spans of one attempt; made only for events that were sampled at ingest."""

    __slots__ = ("_settling", "claimed", "span", "tracing")

    def __init__(self, tracing: Tracing, claimed: ClaimedDelivery, claimed_ns: int) -> None:
        assert claimed.trace_id is not None and claimed.trace_span_id is not None
        self.tracing = tracing
        self.claimed = claimed
        due = int(claimed.due_at.timestamp() * 1e9) if claimed.due_at else claimed_ns
        due = min(due, claimed_ns)
        attributes = {
            "gateway.source": claimed.source,
            "gateway.event.id": claimed.event_id,
            "gateway.event.type": claimed.event_type or "",
            "gateway.delivery.id": claimed.id,
            "gateway.subscriber": claimed.subscriber_name,
            "gateway.attempt": claimed.total_attempts,
            "gateway.destination": destination_kind(claimed.destination),
        }
        parent = (claimed.trace_id, claimed.trace_span_id, True)
        self.span: OpenSpan = tracing.start("attempt", parent, due, attributes)
        tracing.span("claim wait", self.span, due, claimed_ns)
        self._settling = 0

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` a subscriber is sent: the attempt's span."""
        return self.span.traceparent

    def transformed(self, start_ns: int, error: str | None) -> None:
        self.tracing.span("transform", self.span, start_ns, time.time_ns(), error=error)

    def sent(self, result: AttemptResult) -> None:
        """The request (a publish for a broker), timed as the attempt's result is."""
        kind = destination_kind(self.claimed.destination)
        start, end = _ns(result)
        attributes: dict[str, Any] = {"gateway.outcome": result.outcome}
        if result.status_code is not None:
            attributes["http.response.status_code"] = result.status_code
        if kind == "http":
            name, span_kind = "request", "CLIENT"
            attributes["http.request.method"] = "POST"
        else:
            name, span_kind = "publish", "PRODUCER"
            attributes["messaging.system"] = "rabbitmq" if kind == "amqp" else "aws_sqs"
        error = None if result.ok else (result.error or result.outcome)
        self.tracing.span(name, self.span, start, end, attributes, kind=span_kind, error=error)

    def abandoned(self, reason: str) -> None:
        """The attempt ends unsent (its lease given back or lost): so does its span."""
        self.tracing.end(self.span, attributes={"gateway.outcome": "not-sent"}, error=reason)

    def settling(self) -> None:
        self._settling = time.time_ns()

    def settled(self, settlement: Settlement) -> None:
        """The settlement written: its span and the attempt's end here."""
        result = settlement.result
        now = time.time_ns()
        self.tracing.span(
            "settlement", self.span, self._settling or now, now, {"gateway.next": settlement.status}
        )
        attributes: dict[str, Any] = {
            "gateway.outcome": result.outcome,
            "gateway.next": settlement.status,
        }
        if result.status_code is not None:
            attributes["http.response.status_code"] = result.status_code
        error = None if result.ok else (result.error or result.outcome)
        self.tracing.end(self.span, now, attributes, error=error)
