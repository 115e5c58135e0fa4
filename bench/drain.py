"""Workloads 3 and 6: draining a backlog to the sink (plain, and with a transform on each
delivery), and the claim with 1,000,000 pending."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec

from bench import db
from bench.common import Context, cpu_per, receipt_rate
from bench.params import Params
from bench.payloads import read_requests
from bench.procs import PYTHON, Child, profiled
from bench.report import Row
from gateway.domain.transform import Transform

TRANSFORM = Path(__file__).parents[1] / "examples" / "transforms" / "shopify-orders-create.js"
"""What workload 3's transformed drain runs on every delivery: the Shopify example."""


def backlog(ctx: Context) -> list[Row]:
    """Workload 3: a backlog of deliveries, drained by ``--role worker``, against baseline B."""
    p = ctx.params
    url = ctx.database("bench_w3")
    ctx.log(f"workload 3: storing {p.backlog // 2} events = {p.backlog} pending deliveries")
    seeded = ctx.server.run(db.seed(url, p.backlog // 2, read_requests(ctx.requests_file)))
    claim = ctx.server.run(db.explain_claim(url, *claim_args(p), 60.0, p.claim_samples))
    claim.pop("plan")
    gw = _drain(ctx, url, "w3", seeded["pending"], profile="drain")
    transformed = _transformed(ctx)
    ctx.log(f"workload 3: baseline B posts {seeded['pending']} bodies to the sink")
    base = _bare_client(ctx, seeded["pending"])
    ctx.results["w3"] = {
        "seeded": seeded,
        "claim_at_backlog": claim,
        "gateway": gw,
        "transformed": transformed,
        "baseline_b": base,
    }
    return [
        Row(3, f"drain {seeded['pending']:,} deliveries", "deliv/s", gw["rate"], base["rate"],
            "B", ">= 0.5 x B", ratio_goal=0.5),
        Row(3, "  deliveries received by the sink", "count", gw["received"], base["received"],
            "B"),
        Row(3, "  CPU per delivery (server + PostgreSQL; B: client)", "us",
            cpu_per(gw["cpu_cores"], gw["rate"]),
            cpu_per(base["cpu_cores"], base["rate"], ("generator",)), "B"),
        Row(3, "drain with a transform on each delivery", "deliv/s", transformed["rate"],
            gw["rate"], "no transform", ">= 0.7 x", ratio_goal=0.7),
        Row(3, "  CPU per delivery with a transform", "us",
            cpu_per(transformed["cpu_cores"], transformed["rate"]),
            cpu_per(gw["cpu_cores"], gw["rate"]), "no transform"),
        Row(3, "  attempts that ran the transform", "count", transformed["transformed"],
            transformed["received"], "received"),
    ]  # fmt: skip


def _transformed(ctx: Context) -> dict[str, Any]:
    """The same backlog on a database of its own, every subscriber with the Shopify
    example's transform, drained the same way."""
    p = ctx.params
    url = ctx.database("bench_w3t")
    seeded = ctx.server.run(db.seed(url, p.backlog // 2, read_requests(ctx.requests_file)))
    column = msgspec.structs.asdict(Transform(source=TRANSFORM.read_text()))
    ctx.server.run(db.set_transform(url, column))
    ctx.log(f"workload 3: {seeded['pending']} deliveries, each through a transform")
    drained = _drain(ctx, url, "w3t", seeded["pending"], profile="drain-transformed")
    drained["transformed"] = ctx.server.run(
        db.count(url, "SELECT count(*) FROM delivery_attempts WHERE transform_version IS NOT NULL")
    )
    return drained


def _drain(ctx: Context, url: str, name: str, pending: int, *, profile: str) -> dict[str, Any]:
    p = ctx.params
    ctx.sink.reset()
    started = time.monotonic()
    gateway = ctx.gateway(f"{name}-worker", url, "worker")
    try:
        target = ctx.profile_path(profile)
        with profiled(gateway.pid, target, p.profile_seconds), ctx.cpu(server=gateway.pid) as cpu:
            stats = ctx.sink.wait_for(pending, timeout=p.drain_timeout)
    finally:
        gateway.stop()
    succeeded = ctx.server.run(
        db.count(url, "SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
    )
    ctx.log(f"  {receipt_rate(stats):.0f} deliveries/s; cores used: {cpu.cores}")
    return {
        "rate": receipt_rate(stats),
        "received": stats["count"],
        "cpu_cores": cpu.cores,
        "recorded_succeeded": succeeded,
        "seconds_first_to_last": round((stats["last"] or 0) - (stats["first"] or 0), 2),
        "seconds_from_process_start": round((stats["last"] or started) - started, 2),
    }


def _bare_client(ctx: Context, count: int) -> dict[str, Any]:
    ctx.sink.reset()
    args = ["client", "--url", ctx.sink.url("/b"), "--requests", str(ctx.requests_file)]
    args += ["--count", str(count), "--concurrency", str(ctx.params.concurrency)]
    with ctx.cpu() as cpu:
        child = Child([PYTHON, "-m", "bench.bare", *args], ctx.workdir / "bare-client.log")
        try:
            child.proc.wait(ctx.params.drain_timeout)
        except subprocess.TimeoutExpired:
            child.stop()
    stats = ctx.sink.stats()
    ctx.log(f"  {receipt_rate(stats):.0f} deliveries/s; cores used: {cpu.cores}")
    return {"rate": receipt_rate(stats), "received": stats["count"], "cpu_cores": cpu.cores}


def claim_cost(ctx: Context, drain_rate: float | None) -> list[Row]:
    """Workload 6: EXPLAIN ANALYZE of the claim with many pending rows, and the drain rate."""
    p = ctx.params
    url = ctx.database("bench_w6")
    ctx.log(f"workload 6: storing {p.claim_rows:,} pending deliveries")
    seeded = ctx.server.run(db.seed(url, p.claim_rows // 2, read_requests(ctx.requests_file)))
    ctx.log(f"workload 6: stored in {seeded['seconds']:.1f}s; EXPLAIN ANALYZE of the claim")
    claim = ctx.server.run(db.explain_claim(url, *claim_args(p), 60.0, p.claim_samples))
    small = ctx.results.get("w3", {}).get("claim_at_backlog", {})
    rate = _windowed_drain(ctx, url)
    ctx.results["w6"] = {"seeded": seeded, "claim": claim, "drain": rate}
    return [
        Row(
            6,
            f"claim of {claim_args(p)[0]} with {seeded['pending']:,} pending: execution",
            "ms",
            claim["execution_ms_median"],
            small.get("execution_ms_median"),
            f"{small.get('pending', 0):,} pending",
            "<= 2 ms",
            limit=2,
        ),
        Row(
            6,
            "  claim round trip from the client",
            "ms",
            claim["round_trip_ms_median"],
            small.get("round_trip_ms_median"),
            f"{small.get('pending', 0):,} pending",
        ),
        Row(
            6,
            "  shared buffers the claim touched",
            "buffers",
            claim["shared_buffers"],
            small.get("shared_buffers"),
            f"{small.get('pending', 0):,} pending",
        ),
        Row(
            6,
            "  plan uses the partial index deliveries_due_idx",
            "",
            "yes" if claim["uses_partial_index"] else "no",
            None,
            "",
            "yes",
            expect="yes",
        ),
        Row(
            6,
            f"drain rate with {seeded['pending']:,} pending",
            "deliv/s",
            rate["rate"],
            drain_rate,
            "workload 3",
            "within 20 % of 3",
            ratio_goal=0.8,
        ),
    ]


def _windowed_drain(ctx: Context, url: str) -> dict[str, Any]:
    """The receipt rate over a window that skips the worker's first second."""
    p = ctx.params
    ctx.sink.reset()
    gateway = ctx.gateway("w6-worker", url, "worker")
    try:
        ctx.sink.wait_for(1, timeout=60)
        with ctx.cpu(server=gateway.pid) as cpu:
            time.sleep(1.0 + p.claim_drain_seconds)
        times = [at for _, _, at in ctx.sink.arrivals()]
    finally:
        gateway.stop()
    if not times:
        return {"rate": 0.0, "window_seconds": 0.0, "received": 0}
    window = [t for t in times if t >= times[0] + 1.0] or times
    span = window[-1] - window[0]
    return {
        "rate": (len(window) - 1) / span if span > 0 else 0.0,
        "window_seconds": round(span, 2),
        "received": len(times),
        "cpu_cores": cpu.cores,
    }


def claim_args(p: Params) -> tuple[int, int | None]:
    """The claim as the dispatcher sends it: up to ``claim_batch`` rows, the shipped
    (or overridden) cap for subscribers without one of their own."""
    return int(p.delivery("claim_batch")), p.delivery("subscriber_max_in_flight")
