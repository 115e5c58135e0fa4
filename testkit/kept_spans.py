"""The gateway's own ``Tracing``, its spans kept in memory instead of exported: what the
encoder's tests and its bench compare encodings over."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry, Counter

from gateway.observability.export import counted
from gateway.observability.tracing import Tracing

__all__ = ["Keep", "kept_tracing"]


class Keep(SpanExporter):
    """Keeps every span it is given."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def kept_tracing(service_name: str, max_queue_size: int) -> tuple[Tracing, Keep]:
    """A ``Tracing`` as the gateway makes it, whose batch processor hands spans to a
    :class:`Keep`."""
    tracing = Tracing(
        Counter("d", "d", ["reason"], registry=CollectorRegistry()),
        exporter="otlp-http",
        endpoint="http://127.0.0.1:9/v1/traces",
        headers={},
        sampling_ratio=1.0,
        inbound="link",
        service_name=service_name,
        export_timeout_seconds=1.0,
        max_queue_size=max_queue_size,
    )
    keep = Keep()
    dropped = Counter("k", "k", ["reason"], registry=CollectorRegistry())
    tracing.processor = counted(keep, dropped, max_queue_size, 1.0)
    return tracing, keep
