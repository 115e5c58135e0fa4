"""Traces: one per event, its spans made as plain tuples and exported over OTLP by a
process of their own (``export.py``, ``exporter.py``).

Nothing here imports OpenTelemetry: the exporter process does (the ``tracing`` extra).
With tracing off nothing here runs, and the ingress and the dispatcher pay one ``is
None``.

Whether an event is traced is decided once, at its ingest, before any span is made: an
unsampled webhook costs a random number. A sampled event's trace id and ingest span id
are stored with it, so every delivery attempt, in any process, is a child of its ingest.
Spans whose times are known only afterwards (the checks, the group commit, the wait for
a claim) are made with explicit start and end times.

Export never holds an answer: finished spans are handed to the exporter process in
batches, behind a bounded count of spans waiting; a span that finds it full, or whose
export failed, is dropped and counted (``gateway_trace_spans_dropped_total``).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol

from gateway.domain.privacy import HIDDEN, is_secret_header

__all__ = [
    "CHILD_KIND",
    "TRACEPARENT",
    "Child",
    "Finished",
    "OpenSpan",
    "Parent",
    "Spans",
    "Tracing",
    "expanded",
    "parse_traceparent",
    "shown_headers",
    "span_count",
]

TRACEPARENT: Final = "traceparent"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

Inbound = Literal["trust", "link", "ignore"]
Parent = tuple[str, str, bool]
"""A W3C trace context: trace id and span id (hex), and whether it was sampled."""

Child = tuple[str, int, int, dict[str, Any] | None]
"""A span that ended within its parent and is exported with it: name, start and end (ns
since the epoch) and attributes; its kind is :data:`CHILD_KIND`. Nothing refers to its
id, so the exporter makes it (:func:`expanded`, and the encoder as it writes): a
webhook's checks and group commit cost no span of their own on the way there."""
CHILD_KIND: Final = "INTERNAL"

Finished = tuple[
    bytes,
    int,
    int | None,
    str,
    str,
    int,
    int,
    dict[str, Any],
    tuple[bytes, int] | None,
    str | None,
    list[Child] | None,
]
"""A finished span: trace id (16 bytes), span id, parent's span id (``None`` for a root),
name, kind (``SpanKind``'s name), start and end (ns since the epoch), attributes, the
sender's span it links to (trace id, span id), for a failure its error status's message,
and its children (:data:`Child`) or ``None``. Ids are what MessagePack carries as they
are (a trace id is wider than its ints)."""


class Spans(Protocol):
    """Where finished spans go (the exporter process's pipe, or a test's list)."""

    def add(self, span: Finished) -> None:
        """Take ``span``; never blocks, never raises."""


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
    """A span under way: its ids (the trace id as 16 bytes, span ids as ints), its
    parent's span id, and what it will be exported with, its children's spans too
    (``children``, until it ends; ``None`` after)."""

    __slots__ = (
        "attributes",
        "children",
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
        trace_id: bytes,
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
        self.children: list[Child] | None = []

    @property
    def ids(self) -> Parent:
        """Its trace id and span id, as hex (a context a child or a header names)."""
        return self.trace_id.hex(), self.span_id.to_bytes(8).hex(), True  # half a format's cost

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` header naming this span."""
        trace_id, span_id, _ = self.ids
        return f"00-{trace_id}-{span_id}-01"


class Tracing:
    """Sampling, and the spans of sampled events, each handed finished to ``spans`` (the
    exporter process's pipe, ``export.py``) as a plain tuple (:data:`Finished`).

    Most of a webhook's spans are known only once they are over: they are made finished,
    and no OpenTelemetry object is made for a span in the gateway's process at all (the
    exporter writes the OTLP bytes straight from the tuples). Ids come from
    ``random.getrandbits``, as the SDK's own generator takes them.
    """

    def __init__(self, spans: Spans, *, sampling_ratio: float, inbound: Inbound) -> None:
        self.ratio = sampling_ratio
        self.inbound = inbound
        self.spans = spans
        self._add = spans.add
        self._random = random.random
        self._bits = random.getrandbits

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
        trace_id: bytes
        parent_id: int | None
        if parent is None:
            trace_id, parent_id = (self._bits(128) or 1).to_bytes(16, "big"), None
        else:
            trace_id, parent_id = _ids(parent)
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
        trace_id, parent_id = _ids(parent)
        self._add(
            (
                trace_id,
                self._bits(64) or 1,
                parent_id,
                name,
                kind,
                start_ns,
                end_ns,
                dict(attributes) if attributes else {},
                None,
                error,
                None,
            )
        )

    def child(
        self,
        span: OpenSpan,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """A finished span from ``start_ns`` to ``end_ns``, a child of ``span`` exported
        with it (:data:`Child`); on its own when ``span`` has ended already."""
        children = span.children
        if children is not None:
            children.append((name, start_ns, end_ns, attributes))
        else:
            self.span(name, span, start_ns, end_ns, attributes)

    def end(
        self,
        span: OpenSpan,
        end_ns: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """End ``span`` (now, or at ``end_ns``) with ``attributes`` and, for a failure, an
        error status saying ``error``; it goes to the export."""
        if attributes:
            span.attributes.update(attributes)
        link, children = span.link, span.children
        span.children = None
        self._add(
            (
                span.trace_id,
                span.span_id,
                span.parent_id,
                span.name,
                span.kind,
                span.start_ns,
                end_ns if end_ns is not None else time.time_ns(),
                span.attributes,
                None if link is None else (bytes.fromhex(link[0]), int(link[1], 16)),
                error,
                children or None,
            )
        )

    def commits(self, spans: Sequence[OpenSpan], start_ns: int, end_ns: int, size: int) -> None:
        """The group commit that stored these traced events, as a child of each one's
        ingest span (one batch, many traces)."""
        attributes = {"gateway.batch.size": size}  # one dict for all: it is not changed
        for span in spans:
            self.child(span, "group commit", start_ns, end_ns, attributes)


def span_count(spans: Sequence[Finished]) -> int:
    """The spans ``spans`` stand for: each, and each one's children."""
    return len(spans) + sum(len(span[10]) for span in spans if span[10])


def expanded(spans: Sequence[Finished]) -> list[Finished]:
    """``spans`` with each one's children (:data:`Child`) as spans of their own after it,
    each given its id here (as the SDK's generator makes one)."""
    bits = random.getrandbits
    out: list[Finished] = []
    for span in spans:
        children = span[10]
        if not children:
            out.append(span)
            continue
        trace_id, span_id = span[0], span[1]
        out.append((*span[:10], None))
        out += [
            (trace_id, bits(64) or 1, span_id, name, CHILD_KIND, start, end, attributes or {},
             None, None, None)
            for name, start, end, attributes in children
        ]  # fmt: skip
    return out


def _ids(parent: Parent | OpenSpan) -> tuple[bytes, int]:
    """The trace id and span id of ``parent`` (a span under way, or a context in hex), as
    a child's span holds them."""
    if isinstance(parent, OpenSpan):
        return parent.trace_id, parent.span_id
    return bytes.fromhex(parent[0]), int(parent[1], 16)
