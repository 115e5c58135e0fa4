"""An event's ingest as the root of its trace (or a child of a trusted sender's span),
for webhooks and queued messages alike: the ingest span, begun when the request (or the
message) was, and its checks, a child made once they are over; its id rides on the event
into the database, and the span itself to the writer, which adds the group commit as
another child. Both children are handed over with the ingest span when it ends."""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from gateway.http.problems import Problem
from gateway.observability import log_event
from gateway.observability.tracing import OpenSpan, Parent, Tracing
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["answered", "begin_ingest", "ingest_failed", "ingest_raised", "ingest_stored"]

log = logging.getLogger("gateway.ingress")


def begin_ingest(
    tracing: Tracing,
    event: IngestEvent,
    started: float,
    parent: Parent | None,
    link: Parent | None,
    kind: str = "SERVER",
) -> tuple[OpenSpan, IngestEvent]:
    """The ingest span (from ``started``, a ``perf_counter`` time) with its checks until
    now, and ``event`` carrying its trace."""
    now = time.time_ns()
    begun = now - int((time.perf_counter() - started) * 1e9)
    attributes = {
        "gateway.source": event.source,
        "gateway.event.id": event.id,
        "gateway.event.external_id": event.external_id,
        "gateway.event.type": event.event_type or "",
    }
    span = tracing.start("ingest", parent, begun, attributes, kind=kind, link=link)
    tracing.child(span, "checks", begun, now)
    trace_id, span_id, _ = span.ids
    return span, msgspec.structs.replace(event, trace_id=trace_id, trace_span_id=span_id)


def ingest_stored(
    tracing: Tracing, span: OpenSpan, result: IngestResult, attributes: dict[str, Any]
) -> None:
    """End the ingest span of a stored event (the first copy's id for a duplicate), with
    ``attributes`` (taken: the span holds them)."""
    attributes["gateway.event.id"] = result.event_id
    tracing.end(span, attributes=attributes)
    if log.isEnabledFor(logging.DEBUG):  # its fields cost more than the check
        log_event(
            log, logging.DEBUG, "event traced", event_id=result.event_id,
            source=span.attributes["gateway.source"], trace_id=span.ids[0],
        )  # fmt: skip


def ingest_failed(
    tracing: Tracing, span: OpenSpan, error: str, attributes: dict[str, Any] | None = None
) -> None:
    """End the ingest span of an event that was not stored, saying why."""
    tracing.end(span, attributes=attributes, error=error)


def ingest_raised(tracing: Tracing, span: OpenSpan, exc: BaseException) -> None:
    """End the ingest span of a webhook whose store raised ``exc``: a refusal (a 503)
    with its status and kind, anything else by its type."""
    if isinstance(exc, Problem):
        ingest_failed(tracing, span, exc.detail, answered(exc.status, exc.kind))
    else:
        ingest_failed(tracing, span, type(exc).__name__)


def answered(status: int, outcome: str) -> dict[str, Any]:
    """A webhook's answer as its ingest span carries it: the HTTP status and the
    outcome's name (a fresh dict: the span takes it)."""
    return {"http.response.status_code": status, "gateway.outcome": outcome}
