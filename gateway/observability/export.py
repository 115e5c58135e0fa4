"""Export: spans to an OTLP collector (HTTP or gRPC) through the SDK's batch processor,
behind a bounded count of spans waiting; a span dropped (the queue full, or its export
failed) is counted, and the SDK's export loggers speak at most once a minute."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import Counter

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["counted", "otlp_exporter", "sparse_sdk_logs"]


_SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.sdk._shared_internal",
)
SDK_LOG_INTERVAL = 60.0


class _Sparse(logging.Filter):
    """At most one line a minute from each of the SDK's export loggers: a dead collector
    fails every batch, and each drop is counted in a metric already."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last.get(record.name, -SDK_LOG_INTERVAL) < SDK_LOG_INTERVAL:
            return False
        self._last[record.name] = now
        return True


def sparse_sdk_logs() -> None:
    """Each of the SDK's export loggers, one line a minute at most."""
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Sparse) for f in logger.filters):
            logger.addFilter(_Sparse())


def otlp_exporter(
    kind: Literal["otlp-http", "otlp-grpc"],
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
) -> SpanExporter:
    """The SDK's OTLP exporter for ``kind``, sending spans encoded by ``otlp_encoding``."""
    from gateway.observability.otlp_encoding import grpc_exporter, http_exporter

    if kind == "otlp-grpc":
        secure = endpoint.startswith("https://")
        return grpc_exporter(endpoint.split("://", 1)[-1], not secure, headers, timeout)
    return http_exporter(endpoint, headers, timeout)


def counted(
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
