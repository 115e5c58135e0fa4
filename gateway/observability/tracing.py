"""Traces: one per event, in OpenTelemetry's SDK, exported over OTLP in batches.

Only this module and its export (``export.py``) import OpenTelemetry (the ``tracing``
extra), and only when tracing is on: with it off nothing here runs, and the ingress and
the dispatcher pay one ``is None``.

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
from gateway.observability.export import counted, otlp_exporter, sparse_sdk_logs

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace import Link

__all__ = ["TRACEPARENT", "OpenSpan", "Parent", "Tracing", "parse_traceparent", "shown_headers"]

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


class OpenSpan:
    """A span under way: its ids (ints, as OpenTelemetry holds them), its parent's span
    id, and what it will be exported with."""

    __slots__ = (
        "attributes",
        "kind",
        "link",
        "name",
        "parent_id",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent_id: int | None,
        start_ns: int,
        attributes: dict[str, Any],
        kind: str,
        link: Parent | None,
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.start_ns = start_ns
        self.attributes = attributes
        self.kind = kind
        self.link = link

    @property
    def ids(self) -> Parent:
        """Its trace id and span id, as hex (a context a child or a header names)."""
        return f"{self.trace_id:032x}", f"{self.span_id:016x}", True

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` header naming this span."""
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-01"


class Tracing:
    """Sampling, the spans of sampled events, and their export.

    Spans are made here and handed, finished, to the SDK's batch processor (its
    ``ReadableSpan``, what the SDK's own spans become when they end): most of a webhook's
    spans are known only once they are over, and the SDK's live spans (locks, attribute
    checks, contexts) would cost a sampled webhook several times more CPU. Ids come from
    ``random.getrandbits``, as the SDK's own generator takes them.
    """

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
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        self.ratio = sampling_ratio
        self.inbound = inbound
        self.endpoint = endpoint
        self.exporter = exporter
        self.headers = dict(headers)
        self._resource = _resource(
            Resource.create({"service.name": service_name, "service.version": __version__})
        )
        self._scope = InstrumentationScope("webhook-gateway", __version__)
        span_exporter = otlp_exporter(exporter, endpoint, headers, export_timeout_seconds)
        self.processor = counted(span_exporter, dropped, max_queue_size, export_timeout_seconds)
        sparse_sdk_logs()
        self._random = random.random
        self._bits = random.getrandbits
        self._readable = ReadableSpan
        self._context = SpanContext
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self._kinds = {kind.name: kind for kind in SpanKind}
        self._ok = Status(StatusCode.UNSET)
        self._status = Status
        self._error = StatusCode.ERROR

    def shutdown(self, timeout: float = 5.0) -> None:
        """Export what is queued, for at most ``timeout`` (a dead collector loses it)."""
        done = threading.Thread(target=self.processor.shutdown, daemon=True)
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
        parent: Parent | OpenSpan | None,
        start_ns: int,
        attributes: Mapping[str, Any],
        *,
        kind: str = "INTERNAL",
        link: Parent | None = None,
    ) -> OpenSpan:
        """A span begun at ``start_ns`` (ns since the epoch), child of ``parent`` (a new
        trace's root without one)."""
        if parent is None:
            trace_id, parent_id = self._bits(128) or 1, None
        elif isinstance(parent, OpenSpan):
            trace_id, parent_id = parent.trace_id, parent.span_id
        else:
            trace_id, parent_id = int(parent[0], 16), int(parent[1], 16)
        span_id = self._bits(64) or 1
        return OpenSpan(name, trace_id, span_id, parent_id, start_ns, dict(attributes), kind, link)

    def span(
        self,
        name: str,
        parent: Parent | OpenSpan,
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
        span: OpenSpan,
        end_ns: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """End ``span`` (now, or at ``end_ns``) with ``attributes`` and, for a failure, an
        error status saying ``error``; it goes to the export queue."""
        if attributes:
            span.attributes.update(attributes)
        context = self._context
        parent = None
        if span.parent_id is not None:
            parent = context(span.trace_id, span.parent_id, True, self._sampled)
        finished = self._readable(
            span.name,
            context=context(span.trace_id, span.span_id, False, self._sampled),
            parent=parent,
            resource=self._resource,
            attributes=span.attributes,
            links=_links(span.link),
            kind=self._kinds[span.kind],
            status=self._ok if error is None else self._status(self._error, error),
            start_time=span.start_ns,
            end_time=end_ns if end_ns is not None else time.time_ns(),
            instrumentation_scope=self._scope,
        )
        self.processor.on_end(finished)

    def commits(self, parents: Sequence[Parent], start_ns: int, end_ns: int, size: int) -> None:
        """The group commit that stored these traced events, as a child of each one's
        ingest span (one batch, many traces)."""
        for parent in parents:
            self.span("group commit", parent, start_ns, end_ns, {"gateway.batch.size": size})


def _resource(resource: Resource) -> Resource:
    """``resource``, hashed once: the exporter groups spans by resource, and a
    ``Resource`` hashes its attributes as JSON each time (a third of a span's export)."""
    from opentelemetry.sdk.resources import Resource

    class Fixed(Resource):
        __slots__ = ("_hash",)

        def __init__(self) -> None:
            super().__init__(resource.attributes, resource.schema_url)
            self._hash = super().__hash__()

        def __hash__(self) -> int:
            return self._hash

        def __eq__(self, other: object) -> bool:
            return self is other or super().__eq__(other)

    return Fixed()


def _links(link: Parent | None) -> Sequence[Link]:
    if link is None:
        return ()
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    trace_id, span_id, sampled = link
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=flags)
    return [Link(context, {"gateway.link": "sender"})]
