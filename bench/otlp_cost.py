"""What encoding a batch of the gateway's spans for OTLP costs: the SDK's encoder (from
the SDK's spans made of the gateway's tuples) against the bytes written straight from the
tuples by ``gateway.observability.otlp_encoding``.

    .venv/bin/python -m bench.otlp_cost [--batch 512] [--rounds 200]

Makes webhooks' spans as the ingress and the dispatcher do (an ingest with a sender's
link, its checks and group commit, an attempt with its claim wait, request and an error
status), ``batch`` of them, kept rather than exported and read back as the exporter
process reads them (MessagePack), then encodes that batch ``rounds`` times each way,
alternating, and prints the median per batch and per span: for OTLP/HTTP (the request's
bytes) and for OTLP/gRPC (the request's message; the lean bytes parsed back), and what
reading the batch off the pipe costs. In process, one thread; no network.

    .venv/bin/python -m bench.otlp_cost --process 60000 [--process-rounds 5]

instead runs the exporter process itself (``gateway.observability.exporter``) on a file of
the frames the gateway would send it for that many webhooks (each an ingest span with its
checks and group commit, the spans workload 10 exports), sending to the bench's
discarding collector on loopback, and prints its CPU (user, system) and minor page
faults a webhook: the medians of the rounds, less those of a process given its settings
alone (its imports and start-up).

    .venv/bin/python -m bench.otlp_cost --loop 100000

instead times what a traced webhook costs the gateway's event loop, from the sampling
decision to its spans' hand-over (``Tracing.sample``, ``begin_ingest``, the group
commit's child, ``ingest_stored`` and ``ExporterProcess.add`` encoding the span into its
batch), the best of five repeats.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from gateway.observability.export import ExporterProcess
from gateway.observability.otlp_encoding import encode, group, readable, request
from gateway.observability.tracing import Finished, Tracing, span_count
from testkit.kept_spans import kept_tracing

SENDER = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)


def spans(count: int) -> list[Finished]:
    """Up to ``count`` spans of webhooks (a child counted), made by the gateway's own
    ``Tracing``."""
    t, keep = kept_tracing()
    now = time.time_ns()
    n = 0
    while span_count(keep.spans) + 8 <= count and n < count:
        n += 1
        attributes = {
            "gateway.source": "shopify",
            "gateway.event.id": f"01JDX{n:021d}",
            "gateway.event.external_id": f"{n:032x}",
            "gateway.event.type": "orders/create",
        }
        ingest = t.start("ingest", None, now, attributes, kind="SERVER", link=SENDER)
        t.child(ingest, "checks", now, now + 40_000)
        t.commits([ingest], now + 50_000, now + 900_000, 64)
        t.end(ingest, now + 1_000_000, {"gateway.outcome": "accepted"})
        attempt = t.start(
            "attempt",
            ingest.ids,
            now + 2_000_000,
            {
                "gateway.source": "shopify",
                "gateway.event.id": attributes["gateway.event.id"],
                "gateway.event.type": "orders/create",
                "gateway.delivery.id": 1_000_000 + n,
                "gateway.subscriber": "warehouse",
                "gateway.attempt": 1,
                "gateway.destination": "http",
            },
        )
        t.span("claim wait", attempt, now + 2_000_000, now + 2_100_000)
        t.span(
            "request",
            attempt,
            now + 2_200_000,
            now + 4_000_000,
            {"gateway.outcome": "failed", "http.response.status_code": 503},
            kind="CLIENT",
            error="HTTP 503",
        )
        settled = {"gateway.next": "retrying"}
        t.span("settlement", attempt, now + 4_000_000, now + 4_100_000, settled)
        t.end(attempt, now + 4_100_000, {"gateway.outcome": "failed", "gateway.next": "retrying"})
    return keep.spans


def _median_us(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _exporter(endpoint: str) -> ExporterProcess:
    """An exporter as the gateway makes one, never started: what it is given is kept in
    its batch, and each full batch dropped and counted."""
    from prometheus_client import CollectorRegistry, Counter

    dropped = Counter("dropped", "", ["reason"], registry=CollectorRegistry())
    return ExporterProcess(
        dropped, exporter="otlp-http", endpoint=f"{endpoint}/v1/traces", headers={},
        service_name="webhook-gateway", export_timeout_seconds=10.0, max_queue_size=8192,
    )  # fmt: skip


def _webhooks(count: int) -> list[tuple[Any, Any]]:
    """``count`` events as the ingress stores them, each with its writer's result."""
    from gateway.store.records import IngestEvent, IngestResult

    made = []
    for n in range(count):
        event = IngestEvent(
            id=f"evt_01JDX{n:021d}", source="shopify", external_id=f"{n * 7919:032x}",
            event_type="orders/create", ordering_key=None, content_type="application/json",
            headers_json="{}", body=b"{}",
        )  # fmt: skip
        made.append((event, IngestResult(event_id=event.id, duplicate=False)))
    return made


def _traced(tracing: Tracing, webhooks: list[tuple[Any, Any]]) -> None:
    """Each webhook's spans as the ingress makes them: sampled, its ingest span begun
    with its checks, its group commit, and the span ended and handed over."""
    from gateway.ingress.traced import answered, begin_ingest, ingest_stored

    for event, stored in webhooks:
        started = time.perf_counter()
        sampled = tracing.sample(None)
        assert sampled is not None
        span, _ = begin_ingest(tracing, event, started, *sampled)
        committed = time.time_ns()
        tracing.commits([span], committed - 1_000_000, committed, 64)
        ingest_stored(tracing, span, stored, answered(202, "accepted"))


def ingest_frames(webhooks: int, endpoint: str) -> bytes:
    """What the gateway writes down the exporter's pipe for ``webhooks`` traced webhooks:
    the settings, then its batches (each frame as ``ExporterProcess.flush`` writes it)."""
    exporter = _exporter(endpoint)
    frames = [exporter.settings_frame()]

    def flush() -> None:  # the batch kept, where the gateway writes it down the pipe
        if (taken := exporter.take()) is not None:
            frames.extend(taken[:2])

    exporter.flush = flush  # type: ignore[method-assign]
    _traced(Tracing(exporter, sampling_ratio=1.0, inbound="link"), _webhooks(webhooks))
    flush()
    return b"".join(frames)


def _exporter_run(frames: Path) -> tuple[float, float, float]:
    """The exporter process's CPU (user, system, s) and minor page faults, fed ``frames``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with frames.open("rb") as calls:
        command = [sys.executable, "-m", "gateway.observability.exporter"]
        done = subprocess.run(command, stdin=calls, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0 and b"failed" not in done.stdout, done.stdout + done.stderr
    return (
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        after.ru_minflt - before.ru_minflt,
    )


def exporter_cost(webhooks: int, rounds: int) -> None:
    """Print what the exporter process costs a webhook (see the module's docstring)."""
    from bench.procs import TraceCollector

    with tempfile.TemporaryDirectory(prefix="otlp-cost-") as scratch:
        workdir = Path(scratch)
        collector = TraceCollector(workdir)
        try:
            full = ingest_frames(webhooks, collector.endpoint)
            empty = ingest_frames(0, collector.endpoint)
            (workdir / "full").write_bytes(full)
            (workdir / "empty").write_bytes(empty)
            runs: dict[str, list[tuple[float, float, float]]] = {"full": [], "empty": []}
            for _ in range(rounds):  # alternating, so a busy moment falls on each alike
                for name in runs:
                    runs[name].append(_exporter_run(workdir / name))
        finally:
            collector.stop()
    print(f"the exporter process, {webhooks} webhooks (three spans each), median of {rounds}")
    for i, label in enumerate(("user", "system")):
        full_s = statistics.median(r[i] for r in runs["full"])
        empty_s = statistics.median(r[i] for r in runs["empty"])
        print(f"{label:6}  {(full_s - empty_s) / webhooks * 1e6:6.2f} µs a webhook")
    faults = statistics.median(r[2] for r in runs["full"]) - statistics.median(
        r[2] for r in runs["empty"]
    )
    print(f"faults  {faults / webhooks:6.2f} minor page faults a webhook")


def loop_cost(webhooks: int) -> None:
    """Print what a traced webhook costs the loop (see the module's docstring)."""
    tracing = Tracing(_exporter("http://127.0.0.1:9"), sampling_ratio=1.0, inbound="link")
    made = _webhooks(webhooks)
    best = min(timeit.repeat(lambda: _traced(tracing, made), number=1, repeat=5))
    print(f"a traced webhook on the loop  {best / webhooks * 1e6:6.2f} µs ({webhooks} webhooks)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--process", type=int, default=0, metavar="WEBHOOKS")
    parser.add_argument("--process-rounds", type=int, default=5)
    parser.add_argument("--loop", type=int, default=0, metavar="WEBHOOKS")
    args = parser.parse_args(argv)
    if args.loop:
        loop_cost(args.loop)
        return
    if args.process:
        exporter_cost(args.process, args.process_rounds)
        return
    piped = msgspec.msgpack.encode(spans(args.batch))
    batch = msgspec.msgpack.decode(piped)
    g = group("webhook-gateway")
    assert encode(batch, g) is not None, "the lean encoder left the batch to the SDK's"
    ways: dict[str, Callable[[], Any]] = {
        "pipe  read": lambda: msgspec.msgpack.decode(piped),
        "http  sdk ": lambda: encode_spans(readable(batch, g)).SerializePartialToString(),
        "http  lean": lambda: encode(batch, g),
        "grpc  sdk ": lambda: encode_spans(readable(batch, g)),
        "grpc  lean": lambda: request(batch, g),
    }
    rounds = max(1, args.rounds // 10)
    got: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(10):  # alternating, so a busy moment falls on each way alike
        for name, fn in ways.items():
            got[name].append(_median_us(fn, rounds))
    count = span_count(batch)
    print(f"{count} spans a batch, median of {rounds * 10} encodings each")
    for name, figures in got.items():
        us = statistics.median(figures)
        print(f"{name}  {us:9.0f} µs a batch  {us / count:6.2f} µs a span")


if __name__ == "__main__":
    main()
