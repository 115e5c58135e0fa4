"""The trace exporter process, for real: spans handed to it reach a real OTLP receiver;
what cannot be exported (too many waiting, a collector down, an exporter that died) is
counted, never waited for; a dead exporter is replaced; closing delivers what waits."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest
from prometheus_client import CollectorRegistry, Counter

from gateway.observability.export import ExporterProcess
from gateway.observability.tracing import Tracing
from testkit import otlp
from testkit.otlp import Collector
from testkit.polling import until
from testkit.processes import free_port


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    c = await Collector().start()
    yield c
    await c.stop()


def exporter(endpoint: str, **settings: Any) -> tuple[ExporterProcess, Counter]:
    """An exporter for the collector at ``endpoint`` (its base URL), over OTLP/HTTP
    unless ``settings`` say otherwise."""
    dropped = Counter("dropped", "spans", ["reason"], registry=CollectorRegistry())
    grpc = settings.get("exporter") == "otlp-grpc"
    fields: dict[str, Any] = {
        "exporter": "otlp-http",
        "endpoint": endpoint if grpc else f"{endpoint}/v1/traces",
        "headers": {},
        "service_name": "exporter-under-test",
        "export_timeout_seconds": 10.0,
        "max_queue_size": 2048,
        **settings,
    }
    return ExporterProcess(dropped, **fields), dropped


def count(dropped: Counter, reason: str) -> float:
    return dropped.labels(reason)._value.get()  # type: ignore[no-any-return]


def webhooks(exporter: ExporterProcess, n: int, name: str = "ingest") -> None:
    """``n`` traces of two spans each (a span and its child, handed over with it), handed
    over at once."""
    tracing = Tracing(exporter, sampling_ratio=1.0, inbound="link")
    for i in range(n):
        span = tracing.start(name, None, 1_000 + i, {"n": i}, kind="SERVER")
        tracing.child(span, "checks", 1_000 + i, 2_000 + i)
        tracing.end(span, 3_000 + i)
    exporter.flush()


async def test_the_benchs_discarding_collector_counts_every_span_and_keeps_none() -> None:
    discarding = await Collector("discard").start()
    try:
        ex, _ = exporter(discarding.endpoint)
        await ex.start()
        webhooks(ex, 900)
        await ex.close(10.0)
    finally:
        await discarding.stop()
    assert (discarding.span_count, discarding.spans) == (1800, [])


async def test_closing_delivers_every_span_handed_over_to_a_real_receiver(
    collector: Collector,
) -> None:
    ex, dropped = exporter(collector.endpoint)
    await ex.start()
    webhooks(ex, 900)  # more than one batch, less than the queue
    await ex.close(10.0)
    assert len(collector.spans) == 1800
    assert {s.service for s in collector.spans} == {"exporter-under-test"}
    assert sorted(s.attributes["n"] for s in collector.spans if s.name == "ingest") == list(
        range(900)
    )
    assert (count(dropped, "queue_full"), count(dropped, "export_failed")) == (0, 0)
    assert ex.pid is None


async def test_an_exporter_that_dies_is_counted_replaced_and_later_spans_arrive(
    collector: Collector,
) -> None:
    hung = await Collector("hang").start()
    ex, dropped = exporter(hung.endpoint)
    try:
        await ex.start()
        first = ex.pid
        assert first is not None
        webhooks(ex, 5)  # held by the exporter, its export hanging
        os.kill(first, signal.SIGKILL)
        await until(lambda: ex.pid is None, 10, what="the exporter's end seen")
        assert count(dropped, "export_failed") == 10
        webhooks(ex, 3)  # no exporter to take them
        assert count(dropped, "queue_full") == 6
        await until(lambda: ex.pid is not None, 10, what="another exporter")
        assert ex.pid != first and ex.restarts == 1
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"
    finally:
        await ex.close(0.5)
        await hung.stop()
    # The replacement is told the same settings: pointed at a live collector, it sends.
    ex, dropped = exporter(collector.endpoint)
    await ex.start()
    os.kill(ex.pid or 0, signal.SIGKILL)
    await until(lambda: ex.restarts == 1 and ex.pid is not None, 10, what="another exporter")
    webhooks(ex, 4, "after")
    await collector.wait_for(lambda spans: len(spans) >= 8, timeout=10)
    await ex.close(5.0)
    assert {s.name for s in collector.spans} == {"after", "checks"}


async def test_spans_beyond_the_queue_are_dropped_and_counted_without_waiting() -> None:
    hung = await Collector("hang").start()
    ex, dropped = exporter(hung.endpoint, max_queue_size=8)
    try:
        await ex.start()
        webhooks(ex, 4)  # 8 spans, in batches of 2: an export of 4, hanging, and 4 behind
        await until(lambda: ex.exporting == 4, 10, what="the export under way")
        webhooks(ex, 2)  # the queue is full
        assert (ex.waiting, count(dropped, "queue_full")) == (8, 0)
        webhooks(ex, 3)
        assert (ex.waiting, count(dropped, "queue_full")) == (8, 6)
    finally:
        await ex.close(0.5)
        await hung.stop()
    assert count(dropped, "export_failed") == 12  # still held when it was stopped


async def test_a_collector_down_counts_each_span_as_a_failed_export() -> None:
    ex, dropped = exporter(f"http://127.0.0.1:{free_port()}", export_timeout_seconds=0.5)
    await ex.start()
    try:
        webhooks(ex, 6)
        await until(lambda: count(dropped, "export_failed") == 12, 15, what="12 failed")
        assert (ex.waiting, ex.exporting, count(dropped, "queue_full")) == (0, 0, 0)
    finally:
        await ex.close(2.0)


async def test_closing_while_no_exporter_runs_returns_at_once(collector: Collector) -> None:
    ex, dropped = exporter(collector.endpoint)
    await ex.start()
    os.kill(ex.pid or 0, signal.SIGKILL)
    await until(lambda: ex.pid is None, 10, what="the exporter's end seen")
    webhooks(ex, 2)
    began = time.monotonic()
    await ex.close(5.0)
    assert time.monotonic() - began < 1.0
    assert count(dropped, "queue_full") == 4


async def test_a_span_the_pipe_cannot_carry_is_counted_failed_with_its_children(
    collector: Collector,
) -> None:
    ex, dropped = exporter(collector.endpoint)
    await ex.start()
    tracing = Tracing(ex, sampling_ratio=1.0, inbound="link")
    odd = tracing.start("odd", None, 1_000, {"not encodable": object()}, kind="SERVER")
    tracing.child(odd, "checks", 1_000, 2_000)
    tracing.end(odd, 3_000)
    webhooks(ex, 2)  # in the same batch as the odd one
    await ex.close(10.0)
    assert count(dropped, "export_failed") == 2  # the span and its child
    assert sorted(s.name for s in collector.spans) == ["checks", "checks", "ingest", "ingest"]


async def test_a_span_too_large_for_a_grpc_server_fails_alone_and_at_once() -> None:
    with otlp.grpc_receiver() as (port, received):
        ex, dropped = exporter(f"http://127.0.0.1:{port}", exporter="otlp-grpc")
        await ex.start()
        tracing = Tracing(ex, sampling_ratio=1.0, inbound="link")
        huge = tracing.start("huge", None, 1_000, {"too long": "x" * (5 << 20)}, kind="SERVER")
        tracing.child(huge, "checks", 1_000, 2_000)
        tracing.end(huge, 3_000)
        webhooks(ex, 9)  # in the same batch: 18 spans a gRPC server takes
        began = time.monotonic()
        await ex.close(15.0)
        closed = time.monotonic() - began
    got = [
        span.name
        for message in received
        for group in message.resource_spans
        for scope in group.scope_spans
        for span in scope.spans
    ]
    assert sorted(got) == ["checks"] * 9 + ["ingest"] * 9
    assert count(dropped, "export_failed") == 2  # the span too large, and its child
    assert closed < 5.0  # not retried until the export's timeout (10 s here)
