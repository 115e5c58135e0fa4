"""Workloads 1, 2, 4 and 5: what senders see (throughput, ack latency, end to end, bursts)."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from bench import db
from bench.common import (
    Bare,
    Context,
    cpu_per,
    end_to_end,
    loadgen,
    percentiles,
    summary,
    wrk_run,
)
from bench.gateway import Deployment, Gateway
from bench.procs import RssSampler, profiled
from bench.report import Row
from testkit.scrape import parse

MB = 1024 * 1024
PATHS = ["/a", "/b"]  # the two subscribers


def ingest(ctx: Context) -> list[Row]:
    """Workload 1 (saturation, wrk) and 2 (ack latency at half of it, constant rate)."""
    p = ctx.params
    ctx.log("workload 1: baseline A at saturation")
    with Bare(ctx) as bare:
        base, base_cpu, base_rates, _ = _saturate(ctx, bare.url, "w1-bare", bare.child.pid, None)
    database = ctx.database("bench_w1")
    gateway = ctx.gateway("w1-gateway", database, "ingress")
    try:
        ctx.log("workload 1: gateway (--role ingress) at saturation")
        result, cpu, rates, writer = _saturate(
            ctx, gateway.ingest_url, "w1-gateway", gateway.pid, "ingest", gateway, database
        )
        wal = writer.pop("wal")
        ctx.results["w1"] = {
            "gateway": {**result.as_dict(), "cpu_cores": cpu, "rate_by_connections": rates},
            "wal_per_stored_event": wal,
            "baseline_a": {
                **base.as_dict(),
                "cpu_cores": base_cpu,
                "rate_by_connections": base_rates,
            },
            "gateway_metrics": writer_metrics(gateway),
            "writer_by_connections": writer,
        }
        rows = [
            Row(1, "ingest saturation", "req/s", result.rate, base.rate, "A", ">= 0.6 x A",
                ratio_goal=0.6),
            Row(1, "  ack latency p99 at saturation", "ms", result.latency_ms["p99"],
                base.latency_ms["p99"], "A"),
            Row(1, "  CPU per request (server + PostgreSQL)", "us", cpu_per(cpu, result.rate),
                cpu_per(base_cpu, base.rate), "A"),
            Row(1, "  WAL per stored event: bytes", "bytes", wal.get("bytes"), None, ""),
            Row(1, "  WAL per stored event: records", "count", wal.get("records"), None, ""),
            Row(1, "  WAL per stored event: full-page images", "count",
                wal.get("full_page_images"), None, ""),
        ]  # fmt: skip
        if 2 not in p.workloads:
            return rows
        rate = p.rate(result.rate * p.latency_fraction)
        os.sync()  # workload 1's pages written back now, not during workload 2
        if p.latency_settle_seconds:
            settle = p.latency_settle_seconds
            ctx.log(f"workload 2: gateway at {rate:.0f} req/s, {settle:g} s to settle")
            loadgen(ctx, gateway.ingest_url, "w2-settle", rate, settle)
        ctx.log(f"workload 2: gateway at {rate:.0f} req/s (constant rate)")
        seconds = min(p.profile_seconds, p.latency_seconds)
        before = histogram_totals(gateway, WRITER_HISTOGRAMS, buckets=True)
        with (
            profiled(gateway.pid, ctx.profile_path("ack"), seconds),
            ctx.cpu(server=gateway.pid) as cpu,
        ):
            gw = loadgen(ctx, gateway.ingest_url, "w2-gateway", rate, p.latency_seconds)
        split = histogram_means(before, histogram_totals(gateway, WRITER_HISTOGRAMS, buckets=True))
    finally:
        gateway.stop()
    ctx.log(f"workload 2: the writer: {_writer_line(split)}")
    ctx.log(f"workload 2: baseline A at {rate:.0f} req/s")
    with Bare(ctx) as bare, ctx.cpu(server=bare.child.pid) as base_cpu:
        ba = loadgen(ctx, bare.url, "w2-bare", rate, p.latency_seconds)
    ctx.log(f"workload 2: the disk's flush (pg_test_fsync, {p.fsync_seconds} s a method)")
    flush = ctx.server.flush_test(p.fsync_seconds)
    ctx.results["w2"] = {
        "rate": rate,
        "gateway": {**summary(gw), "cpu_cores": cpu.cores, "disk": cpu.disk.summary},
        "writer": split,
        "disk_flush": flush,
        "baseline_a": {**summary(ba), "cpu_cores": base_cpu.cores, "disk": base_cpu.disk.summary},
    }
    ctx.series["w2 gateway ack ms"] = gw["latencies_ms"]
    ctx.series["w2 baseline A ack ms"] = ba["latencies_ms"]
    g, b = percentiles(gw["latencies_ms"]), percentiles(ba["latencies_ms"])
    label = f"ack latency at {rate:.0f} req/s"
    method = f"{flush['method']} of 8 kB"
    return [
        *rows,
        Row(2, f"{label}: p50", "ms", g.get("p50"), b.get("p50"), "A"),
        Row(2, f"{label}: p99", "ms", g.get("p99"), b.get("p99"), "A", "<= 20 ms", limit=20),
        Row(2, "  the writer's commit: mean / p99 at most", "ms", *_ms(split, "commit")),
        Row(2, "  the writer's queue wait: mean / p99 at most", "ms", *_ms(split, "wait")),
        Row(2, "  event loop lag: mean / p99 at most", "ms", *_ms(split, "lag")),
        Row(2, f"  the disk's flush ({method}, pg_test_fsync)", "us", flush["us_per_flush"],
            None, ""),
        Row(2, f"  the disk's flushes a second ({method})", "ops/s", flush["ops_per_s"], None,
            ""),
        Row(2, "  answers other than 2xx", "count", _not_2xx(gw), _not_2xx(ba), "A"),
    ]  # fmt: skip


_SPLIT = {
    "commit": "gateway_writer_commit_seconds",
    "wait": "gateway_writer_wait_seconds",
    "lag": "gateway_event_loop_lag_seconds",
}


def _ms(means: dict[str, float], part: str) -> tuple[str | None, None, str]:
    """A part of workload 2's acknowledgement: its mean and the bound of the histogram
    bucket that holds its 99th percentile (the gateway's buckets are coarse), as
    "mean / bound" in ms, for a table row without a baseline."""
    name = _SPLIT[part]
    mean, bound = means.get(f"{name}_mean"), means.get(f"{name}_p99_le")
    if mean is None:
        return None, None, ""
    shown = "inf" if bound is None else f"{bound * 1000:g}"
    return f"{mean * 1000:.2f} / {shown}", None, ""


def _saturate(
    ctx: Context,
    url: str,
    name: str,
    pid: int,
    profile: str | None,
    gateway: Gateway | None = None,
    database: str | None = None,
) -> tuple[Any, dict[str, float], dict[int, float], dict[Any, Any]]:
    """The best of a wrk run at each connection count (``wrk_connections`` and
    ``wrk_connections_few``), each after a warm-up; the best one's CPU split, and the
    rate at each count; for a gateway, the means of its writer's histograms in each run,
    and under ``"wal"`` the WAL per event stored in ``database`` during the best run.
    Only the first run is profiled."""
    p = ctx.params
    counts = [c for c in (p.wrk_connections, p.wrk_connections_few) if c > 0]
    best: tuple[Any, dict[str, float]] | None = None
    rates: dict[int, float] = {}
    writer: dict[Any, Any] = {}
    for count in dict.fromkeys(counts):
        tag = f"{name}-c{count}"
        if p.warmup_seconds:
            wrk_run(ctx, url, f"{tag}-warm", p.warmup_seconds, connections=count)
        seconds = min(p.profile_seconds, p.saturation_seconds)
        target = ctx.profile_path(profile) if profile and best is None else None
        before = {} if gateway is None else histogram_totals(gateway, WRITER_HISTOGRAMS)
        with (
            _wal_per_event(ctx, database) as wal,
            profiled(pid, target, seconds),
            ctx.cpu(server=pid) as cpu,
        ):
            result = wrk_run(ctx, url, tag, p.saturation_seconds, connections=count)
        refused = _not_2xx(result.as_dict())
        ctx.log(
            f"  {count} connections: {result.rate:.0f} 2xx/s ({refused} other answers);"
            f" cores used: {cpu.cores}"
        )
        if gateway is not None:
            means = histogram_means(before, histogram_totals(gateway, WRITER_HISTOGRAMS))
            writer[count] = means
            ctx.log(f"  {count} connections, the writer: {_writer_line(means)}")
            if dropped := trace_spans_dropped(gateway):  # spans not exported cost less
                ctx.log(f"  trace spans dropped so far: {dropped}")
        rates[count] = result.rate
        if best is None or result.rate > best[0].rate:
            best = (result, cpu.cores)
            if database is not None:
                writer["wal"] = wal
                ctx.log(f"  {count} connections, WAL per stored event: {_wal_line(wal)}")
    assert best is not None
    return best[0], best[1], rates, writer


@contextlib.contextmanager
def _wal_per_event(ctx: Context, database: str | None) -> Iterator[dict[str, Any]]:
    """The WAL the server wrote while the block ran (bench/db.py, ``wal_between``), per
    event stored in ``database`` meanwhile (counted: a duplicate answered 2xx stores
    nothing); filled in when the block ends, left empty without a database."""
    figures: dict[str, Any] = {}
    if database is None:
        yield figures
        return
    sql = "SELECT count(*) FROM events"
    stored, start = ctx.server.run(db.count(database, sql)), ctx.server.wal_position()
    yield figures
    end = ctx.server.wal_position()
    stored = ctx.server.run(db.count(database, sql)) - stored
    wal = ctx.server.wal_between(start, end)
    figures["stored_events"] = stored
    figures["wal"] = wal
    if stored:
        for part in ("bytes", "records", "full_page_images"):
            figures[part] = round(wal[part] / stored, 3)


def _wal_line(wal: dict[str, Any]) -> str:
    if not wal.get("stored_events"):
        return "no events stored"
    return (
        f"{wal['bytes']:.0f} bytes, {wal['records']:.1f} records,"
        f" {wal['full_page_images']:.3f} full-page images ({wal['stored_events']} events)"
    )


def _writer_line(means: dict[str, float]) -> str:
    """Batch size, queue wait, commit and loop lag means, as one log line."""
    names = {
        "batch": "gateway_writer_batch_size_mean",
        "wait ms": "gateway_writer_wait_seconds_mean",
        "commit ms": "gateway_writer_commit_seconds_mean",
        "loop lag ms": "gateway_event_loop_lag_seconds_mean",
    }
    parts = []
    for label, key in names.items():
        value = means.get(key)
        if value is not None:
            shown = value * 1000 if label.endswith("ms") else value
            parts.append(f"{label} {shown:.1f}")
    return ", ".join(parts) or "no batches"


def deliver(ctx: Context, saturation: float | None) -> list[Row]:
    """Workload 4 (end to end at a steady rate) and 5 (a burst at twice saturation)."""
    p = ctx.params
    rows: list[Row] = []
    gateway = ctx.deployment("w45", ctx.database("bench_w45"))
    try:
        if 4 in p.workloads:
            rows += _end_to_end(ctx, gateway)
        if 5 in p.workloads and saturation:
            rows += _burst(ctx, gateway, saturation)
    finally:
        gateway.stop()
    return rows


def _end_to_end(ctx: Context, gateway: Deployment) -> list[Row]:
    p = ctx.params
    rate = p.rate(p.e2e_rate)
    ctx.log(
        f"workload 4: end to end at {rate:.0f} events/s through the gateway ({gateway.described})"
    )
    worker = gateway.parts.get("worker", gateway.ingress)
    before = histogram_totals(worker, QUEUE_HISTOGRAMS)
    gw = _sent_and_received(
        ctx, gateway.ingress.ingest_url, "w4-gateway", rate, gateway.pids, profile=True
    )
    queue = histogram_means(before, histogram_totals(worker, QUEUE_HISTOGRAMS))
    ctx.log(f"workload 4: the worker's claims and settlements (means): {_described(queue)}")
    ctx.log("workload 4: end to end through the bare relay (baseline A then B, not durable)")
    forward = [ctx.sink.url(path) for path in PATHS]
    with Bare(ctx, forward) as relay:
        base = _sent_and_received(ctx, relay.url, "w4-relay", rate, {"server": relay.child.pid})
    ctx.series["w4 gateway end-to-end ms"] = gw.pop("latencies")
    ctx.series["w4 relay end-to-end ms"] = base.pop("latencies")
    g = percentiles(ctx.series["w4 gateway end-to-end ms"])
    b = percentiles(ctx.series["w4 relay end-to-end ms"])
    ctx.results["w4"] = {
        "rate": rate,
        "shape": gateway.shape,
        "gateway": {**gw, "latency_ms": g, "worker_metrics": queue},
        "relay": {**base, "latency_ms": b},
    }
    relay_name = "A+B relay"
    return [
        Row(4, f"end to end at {rate:.0f} ev/s: p50", "ms", g.get("p50"), b.get("p50"),
            relay_name, "<= 15 ms", limit=15),
        Row(4, f"end to end at {rate:.0f} ev/s: p99", "ms", g.get("p99"), b.get("p99"),
            relay_name, "<= 100 ms", limit=100),
        Row(4, "  events not delivered to both", "count", gw["undelivered_events"],
            base["undelivered_events"], relay_name),
    ]  # fmt: skip


@contextlib.contextmanager
def profiling(ctx: Context, kind: str, pids: dict[str, int], seconds: float) -> Iterator[None]:
    """py-spy on each of ``pids`` (by part) while the block runs, if profiles were asked for."""
    with contextlib.ExitStack() as stack:
        for part, pid in pids.items():
            stack.enter_context(profiled(pid, ctx.profile_path(f"{kind}-{part}"), seconds))
        yield


def _described(means: dict[str, float]) -> str:
    def ms(name: str) -> str:
        return f"{means.get(f'gateway_delivery_{name}_seconds_mean', 0) * 1000:.1f} ms"

    def size(name: str) -> str:
        return f"{means.get(f'gateway_delivery_{name}_size_mean', 0):.1f}"

    return (
        f"wait before the first claim {ms('claim_wait')}; claim {ms('claim')} for"
        f" {size('claim')} deliveries; settlement {ms('settle')} for {size('settle')}"
    )


def _sent_and_received(
    ctx: Context, url: str, name: str, rate: float, pids: dict[str, int], *, profile: bool = False
) -> dict[str, Any]:
    ctx.sink.reset()
    seconds = min(ctx.params.profile_seconds, ctx.params.e2e_seconds)
    with profiling(ctx, "e2e", pids if profile else {}, seconds), ctx.cpu(**pids) as cpu:
        sent = loadgen(ctx, url, name, rate, ctx.params.e2e_seconds)
    ids = [event_id for event_id, _ in sent["acks"]]
    ctx.sink.wait_delivered(ids, PATHS, timeout=120, idle=15)
    measured = end_to_end([tuple(a) for a in sent["acks"]], ctx.sink.arrivals())
    return {"sender": summary(sent), "cpu_cores": cpu.cores, **measured}


def _burst(ctx: Context, gateway: Deployment, saturation: float) -> list[Row]:
    p = ctx.params
    rate = p.rate(saturation * p.burst_factor)
    offered = f"{rate:.0f} req/s for {p.burst_seconds:g}s"
    ctx.log(f"workload 5: burst of {offered} at the gateway ({gateway.described})")
    ctx.sink.reset()
    seconds = min(p.profile_seconds, p.burst_seconds)
    with RssSampler(*gateway.pids.values()) as rss:
        with profiling(ctx, "burst", gateway.pids, seconds), ctx.cpu(**gateway.pids) as cpu:
            sent = _burst_load(ctx, gateway.ingress.ingest_url, "w5-gateway", rate)
        ctx.log(f"workload 5: waiting for the {len(sent['acks'])} acknowledged events to arrive")
        settle_start = time.monotonic()
        ids = [event_id for event_id, _ in sent["acks"]]
        ctx.sink.wait_delivered(ids, PATHS, timeout=p.settle_timeout, idle=90)
        settle_seconds = time.monotonic() - settle_start
    delivered = end_to_end([tuple(a) for a in sent["acks"]], ctx.sink.arrivals())
    ctx.log("workload 5: the same burst at baseline A")
    with Bare(ctx) as bare, RssSampler(bare.child.pid) as bare_rss:
        base = _burst_load(ctx, bare.url, "w5-bare", rate)
    ctx.results["w5"] = {
        "rate": rate,
        "shape": gateway.shape,
        "seconds": p.burst_seconds,
        "gateway": {
            **summary(sent),
            "cpu_cores": cpu.cores,
            "peak_rss_mb": round(rss.peak / MB, 1),
            "acknowledged_events": delivered["events"],
            "undelivered_events": delivered["undelivered_events"],
            "settle_seconds": round(settle_seconds, 1),
        },
        "baseline_a": {**summary(base), "peak_rss_mb": round(bare_rss.peak / MB, 1)},
    }
    ctx.series["w5 gateway rss MB"] = [s[1] / MB for s in rss.samples]
    burst = f"burst {rate:.0f} req/s x {p.burst_seconds:g}s: peak RSS"
    return [
        Row(5, burst, "MB", rss.peak / MB, bare_rss.peak / MB, "A", "<= 300 MB", limit=300),
        Row(5, "  answers other than 2xx / 503+Retry-After", "count", unexpected(sent),
            unexpected(base), "A", "= 0", limit=0),
        Row(5, "  2xx answers (acknowledged events)", "count", len(sent["acks"]),
            len(base["acks"]), "A"),
        Row(5, "  acknowledged but not delivered to both", "count",
            delivered["undelivered_events"], None, "", "= 0", limit=0),
    ]  # fmt: skip


def _burst_load(ctx: Context, url: str, name: str, rate: float) -> dict[str, Any]:
    p = ctx.params
    connections, timeout = p.burst_connections, p.sender_timeout
    return loadgen(ctx, url, name, rate, p.burst_seconds, connections=connections, timeout=timeout)


def _not_2xx(result: dict[str, Any]) -> int:
    return sum(n for k, n in result["statuses"].items() if not k.startswith("2"))


def unexpected(result: dict[str, Any]) -> int:
    """Answers other than 2xx and 503 with Retry-After (never sent and timed out count)."""
    allowed = ("200", "202", "503+retry-after")
    return sum(n for k, n in result["statuses"].items() if k not in allowed)


WRITER_HISTOGRAMS = (
    "gateway_writer_batch_size",
    "gateway_writer_wait_seconds",
    "gateway_writer_commit_seconds",
    "gateway_event_loop_lag_seconds",
)
QUEUE_HISTOGRAMS = (
    "gateway_delivery_claim_wait_seconds",
    "gateway_delivery_claim_seconds",
    "gateway_delivery_claim_size",
    "gateway_delivery_settle_seconds",
    "gateway_delivery_settle_size",
)


def writer_metrics(gateway: Gateway) -> dict[str, float]:
    """Mean batch size and commit time of the group-commit writer, from /metrics."""
    return histogram_means({}, histogram_totals(gateway, WRITER_HISTOGRAMS))


def trace_spans_dropped(gateway: Gateway) -> dict[str, float]:
    """``gateway_trace_spans_dropped_total`` by reason, those above zero."""
    try:
        with urllib.request.urlopen(f"{gateway.admin}/metrics", timeout=5) as r:  # noqa: S310
            scrape = parse(r.read().decode())
    except OSError:
        return {}
    by = scrape.by("gateway_trace_spans_dropped_total", "reason")
    return {reason: value for reason, value in by.items() if value}


def histogram_totals(
    gateway: Gateway, names: Sequence[str], *, buckets: bool = False
) -> dict[str, float]:
    """The ``_sum`` and ``_count`` series of the histograms ``names`` in /metrics, and
    with ``buckets`` their finite buckets too (as ``<name>_bucket:<le>``)."""
    try:
        with urllib.request.urlopen(f"{gateway.admin}/metrics", timeout=5) as r:  # noqa: S310
            text = r.read().decode()
    except OSError:
        return {}
    series = {f"{name}_{part}" for name in names for part in ("sum", "count")}
    totals = {}
    for (name, labels), value in parse(text).samples.items():
        if name in series:
            totals[name] = value
        elif buckets and name.removesuffix("_bucket") in names:
            le = dict(labels).get("le", "+Inf")
            if le != "+Inf":
                totals[f"{name}:{le}"] = value
    return totals


def histogram_means(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean and count of each histogram over what was observed between two scrapes; when
    the scrapes hold its buckets, the upper bound of the bucket that holds its 99th
    percentile as well (``_p99_le``; missing when that is the unbounded one)."""
    out = {}
    for series in after:
        if not series.endswith("_count"):
            continue
        name = series.removesuffix("_count")
        count = after[series] - before.get(series, 0.0)
        if count:
            total = after[f"{name}_sum"] - before.get(f"{name}_sum", 0.0)
            out[f"{name}_mean"] = round(total / count, 4)
            out[f"{name}_count"] = count
            bounds = sorted(
                (float(key.rpartition(":")[2]), after[key] - before.get(key, 0.0))
                for key in after
                if key.startswith(f"{name}_bucket:")
            )
            bound = next((le for le, n in bounds if n >= 0.99 * count), None)
            if bound is not None:
                out[f"{name}_p99_le"] = bound
    return out
