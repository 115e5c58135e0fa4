"""Tracing for a process: its settings checked before anything starts, its exporter
process started first and stopped last (what is queued is exported, for
``export_timeout_seconds`` at most)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

from gateway.config import Config, ConfigError
from gateway.config.tracing import TraceSettings, trace_settings
from gateway.domain.extras import missing_extra
from gateway.observability import Metrics
from gateway.observability.export import ExporterProcess
from gateway.observability.tracing import Tracing, shown_headers

__all__ = ["check_tracing", "open_tracing"]

log = logging.getLogger("gateway")

_EXPORTERS = {
    "otlp-http": "opentelemetry.exporter.otlp.proto.http",
    "otlp-grpc": "opentelemetry.exporter.otlp.proto.grpc",
}


def check_tracing(config: Config) -> TraceSettings | None:
    """Tracing's settings (``None`` when off); a :class:`ConfigError` when they are bad or
    when tracing is on without its libraries (the ``tracing`` extra)."""
    settings = trace_settings(config.tracing, config.source_file, os.environ)
    if settings is None:
        return None
    for module in ("opentelemetry.sdk", _EXPORTERS[settings.exporter]):
        try:
            missing = missing_extra(module, "tracing", "tracing")
        except ModuleNotFoundError:  # a parent package is missing
            missing = f"tracing needs {module}: pip install 'webhook-gateway[tracing]'"
        if missing is not None:
            raise ConfigError(config.source_file, "tracing.enabled", missing)
    return settings


@contextlib.asynccontextmanager
async def open_tracing(settings: TraceSettings, metrics: Metrics) -> AsyncIterator[Tracing]:
    """The process's :class:`Tracing`: started first, it stops last (after the writer and
    the dispatcher ended their spans)."""
    exporter = ExporterProcess(
        metrics.trace_spans_dropped,
        exporter=settings.exporter,
        endpoint=settings.endpoint,
        headers=settings.headers,
        service_name=settings.service_name,
        export_timeout_seconds=settings.export_timeout_seconds,
        max_queue_size=settings.max_queue_size,
    )
    try:
        await exporter.start()
        log.info(
            "tracing on: %s to %s, sampling %g, inbound traceparent %s, headers %s",
            settings.exporter,
            settings.endpoint,
            settings.sampling_ratio,
            settings.inbound,
            shown_headers(settings.headers),
        )
        yield Tracing(exporter, sampling_ratio=settings.sampling_ratio, inbound=settings.inbound)
    finally:
        await exporter.close(settings.export_timeout_seconds)
