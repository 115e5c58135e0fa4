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
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from gateway.observability.otlp_encoding import encode, group, readable, request
from gateway.observability.tracing import Finished, span_count
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
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
