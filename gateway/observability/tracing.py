"""Traces: one per event, in OpenTelemetry's SDK, exported over OTLP in batches.

Only this module imports OpenTelemetry (the ``tracing`` extra), and only when tracing is
on: with it off nothing here runs, and the ingress and the dispatcher pay one ``is None``.

Whether an event is traced is decided once, at its ingest, before any span is made: an
unsampled webhook costs a random number. A sampled event's trace id and ingest span id
are stored with it, so every delivery attempt, in any process, is a child of its ingest.
Spans whose times are known only afterwards (the checks, the group commit, the wait for
a claim) are made with explicit start and end times.

Export never holds an answer: spans wait in a bounded queue for the SDK's exporting
thread; a span that finds the queue full, or whose export failed, is dropped and counted
(``gateway_trace_spans_dropped_total``).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from prometheus_client import Counter

from gateway import __version__
from gateway.domain.privacy import HIDDEN, is_secret_header

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Link, Span, Tracer

__all__ = ["TRACEPARENT", "Parent", "Tracing", "parse_traceparent", "shown_headers"]

TRACEPARENT: Final = "traceparent"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

Inbound = Literal["trust", "link", "ignore"]
Parent = tuple[str, str, bool]
"""A W3C trace context: trace id and span id (hex), and whether it was sampled."""


def parse_traceparent(value: str | None) -> Parent | None:
    """A ``traceparent`` header's context, or ``None`` when it is missing or malformed
    (W3C Trace Context: version ff and all-zero ids are invalid; a later version's extra
    fields are ignored, version 00 has none)."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE:
        return None
    if span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The exporter's headers as logs may show them: a credential's value hidden."""
    return {k: HIDDEN if is_secret_header(k) else v for k, v in headers.items()}


def _now_ns() -> int:
    return time.time_ns()


class Tracing:
    """The process's tracer provider, sampler and export; spans made through it."""

    def __init__(
        self,
        dropped: Counter,
        *,
        exporter: Literal["otlp-http", "otlp-grpc"],
        endpoint: str,
        headers: Mapping[str, str],
        sampling_ratio: float,
        inbound: Inbound,
        service_name: str,
        export_timeout_seconds: float,
        max_queue_size: int,
    ) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        self.ratio = sampling_ratio
        self.inbound = inbound
        self.endpoint = endpoint
        self.exporter = exporter
        self.headers = dict(headers)
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self.provider = TracerProvider(resource=resource, sampler=ALWAYS_ON)
        span_exporter = _exporter(exporter, endpoint, headers, export_timeout_seconds)
        self.provider.add_span_processor(
            _counted(span_exporter, dropped, max_queue_size, export_timeout_seconds)
        )
        self.tracer: Tracer = self.provider.get_tracer("webhook-gateway", __version__)
        self._random = random.random

    def shutdown(self, timeout: float = 5.0) -> None:
        """Export what is queued, for at most ``timeout`` (a dead collector loses it)."""
        done = threading.Thread(target=self.provider.shutdown, daemon=True)
        done.start()
        done.join(timeout)

    # Sampling: decided once, before any span.

    def sample(self, traceparent: str | None) -> tuple[Parent | None, Parent | None] | None:
        """Whether a webhook is traced: ``None`` when not, else its parent (``trust``: the
        sender's context) and the sender's context to link to (``link``)."""
        if self.inbound != "ignore" and traceparent:
            sender = parse_traceparent(traceparent)
            if sender is not None:
                if self.inbound == "trust":
                    return (sender, None) if sender[2] else None
                if self._random() < self.ratio:
                    return None, sender
                return None
        if self.ratio <= 0.0 or (self.ratio < 1.0 and self._random() >= self.ratio):
            return None
        return None, None

    # Spans.

    def start(
        self,
        name: str,
        parent: Parent | Span | None,
        start_ns: int,
        attributes: Mapping[str, Any],
        *,
        kind: str = "INTERNAL",
        link: Parent | None = None,
    ) -> Span:
        """A span begun at ``start_ns`` (ns since the epoch), child of ``parent``."""
        from opentelemetry.trace import SpanKind

        return self.tracer.start_span(
            name,
            context=_context(parent),
            kind=SpanKind[kind],
            attributes=dict(attributes),
            links=_links(link),
            start_time=start_ns,
        )

    def span(
        self,
        name: str,
        parent: Parent | Span,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, Any] | None = None,
        *,
        kind: str = "INTERNAL",
        error: str | None = None,
    ) -> None:
        """A finished span from ``start_ns`` to ``end_ns``."""
        span = self.start(name, parent, start_ns, attributes or {}, kind=kind)
        self.end(span, end_ns, error=error)

    def end(
        self,
        span: Span,
        end_ns: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """End ``span`` (now, or at ``end_ns``), with ``attributes`` and, for a failure,
        an error status saying ``error``."""
        if attributes:
            span.set_attributes(dict(attributes))
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end_ns if end_ns is not None else _now_ns())

    @staticmethod
    def ids(span: Span) -> Parent:
        """``span``'s trace id and span id, as hex."""
        context = span.get_span_context()
        return f"{context.trace_id:032x}", f"{context.span_id:016x}", True

    @staticmethod
    def traceparent(span: Span) -> str:
        """The W3C ``traceparent`` header naming ``span``."""
        trace_id, span_id, _ = Tracing.ids(span)
        return f"00-{trace_id}-{span_id}-01"

    def commits(self, parents: Sequence[Parent], start_ns: int, end_ns: int, size: int) -> None:
        """The group commit that stored these traced events, as a child of each one's
        ingest span (one batch, many traces)."""
        for parent in parents:
            self.span("group commit", parent, start_ns, end_ns, {"gateway.batch.size": size})


def _context(parent: Parent | Span | None) -> Any:
    if parent is None:
        return None
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    if isinstance(parent, tuple):
        trace_id, span_id, _ = parent
        parent = NonRecordingSpan(
            SpanContext(
                int(trace_id, 16),
                int(span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )
    return trace.set_span_in_context(parent)


def _links(link: Parent | None) -> list[Link] | None:
    if link is None:
        return None
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    trace_id, span_id, sampled = link
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=flags)
    return [Link(context, {"gateway.link": "sender"})]


def _exporter(
    kind: Literal["otlp-http", "otlp-grpc"],
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
) -> SpanExporter:
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        secure = endpoint.startswith("https://")
        target = endpoint.split("://", 1)[-1]
        return GrpcExporter(
            endpoint=target, insecure=not secure, headers=dict(headers), timeout=timeout
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=endpoint, headers=dict(headers), timeout=timeout)


def _counted(
    exporter: SpanExporter, dropped: Counter, max_queue_size: int, timeout: float
) -> SpanProcessor:
    """The SDK's batch processor behind a count of spans waiting: a span that finds
    ``max_queue_size`` waiting is dropped (and counted) before the SDK's own queue would
    drop one silently, and so is every span of a failed export."""
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Counting(SpanExporter):
        def __init__(self) -> None:
            self.waiting = 0
            self.lock = threading.Lock()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with self.lock:
                self.waiting -= len(spans)
            try:
                result = exporter.export(spans)
            except Exception:
                result = SpanExportResult.FAILURE
            if result is not SpanExportResult.SUCCESS:
                dropped.labels("export_failed").inc(len(spans))
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return exporter.force_flush(timeout_millis)

    counting = Counting()
    batch = BatchSpanProcessor(
        counting,
        max_queue_size=max_queue_size,
        max_export_batch_size=min(512, max_queue_size),
        export_timeout_millis=timeout * 1000,
    )

    class Bounded(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            pass

        def on_end(self, span: ReadableSpan) -> None:
            with counting.lock:
                full = counting.waiting >= max_queue_size
                if not full:
                    counting.waiting += 1
            if full:
                dropped.labels("queue_full").inc()
                return
            batch.on_end(span)

        def shutdown(self) -> None:
            batch.shutdown()  # type: ignore[no-untyped-call]

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return batch.force_flush(timeout_millis)

    return Bounded()
