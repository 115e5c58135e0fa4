"""What the workloads share: the run's context, the generators, percentiles."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson

from bench import wrk
from bench.db import TEMPLATE, Server
from bench.gateway import Deployment, Gateway, apply_overrides, base_config
from bench.params import Params
from bench.procs import PYTHON, Child, CpuSplit, Sink, TraceCollector, wait_port
from testkit.processes import free_port


@dataclasses.dataclass
class Context:
    params: Params
    workdir: Path
    requests_file: Path
    server: Server
    sink: Sink
    results: dict[str, Any] = dataclasses.field(default_factory=dict)
    collector: TraceCollector | None = None  # started for the first gateway with tracing on
    series: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    _tags: itertools.count[int] = dataclasses.field(default_factory=itertools.count)

    def tag(self, name: str) -> str:
        return f"{name}-{next(self._tags)}-"

    def database(self, name: str) -> str:
        return self.server.create(name, TEMPLATE)

    def gateway(
        self, name: str, database_url: str, role: str, extra: dict[str, Any] | None = None
    ) -> Gateway:
        config = {**base_config(database_url), **(extra or {})}
        apply_overrides(config, self.params.overrides)
        tracing = config.get("tracing", {})
        if tracing.get("enabled") and "endpoint" not in tracing:
            if self.collector is None:
                self.collector = TraceCollector(self.workdir)
            tracing["endpoint"] = self.collector.endpoint
        return Gateway(self.workdir, name, config, role)

    def deployment(self, name: str, database_url: str) -> Deployment:
        """The gateway in the run's shape (``--shape``), on ``database_url``."""
        return Deployment(
            lambda part, role: self.gateway(part, database_url, role), name, self.params.shape
        )

    def cpu(self, within: dict[str, int] | None = None, **trees: int) -> CpuSplit:
        """Measure the cores used by the named processes, PostgreSQL, the sink (and the
        trace collector, when one runs), the rest."""
        pid = self.server.embedded.server.get_pid()
        own = {**trees, "postgres": pid, "sink": self.sink.child.pid}
        if self.collector is not None:
            own["otlp_collector"] = self.collector.child.pid
        return CpuSplit(own, within)

    def profile_path(self, name: str) -> Path | None:
        return self.params.out / f"profile-{name}.txt" if self.params.profile else None

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wrk_run(
    ctx: Context,
    url: str,
    name: str,
    seconds: float,
    stop_after: int = 0,
    connections: int | None = None,
) -> wrk.WrkResult:
    p = ctx.params
    return wrk.run_wrk(
        url,
        ctx.requests_file,
        ctx.tag(name),
        seconds=seconds,
        threads=p.wrk_threads,
        connections=connections or p.wrk_connections,
        stop_after=stop_after,
    )


def saturate(ctx: Context, url: str, name: str) -> wrk.WrkResult:
    """A warm-up, then the measured wrk run."""
    if ctx.params.warmup_seconds:
        wrk_run(ctx, url, f"{name}-warm", ctx.params.warmup_seconds)
    return wrk_run(ctx, url, name, ctx.params.saturation_seconds)


def loadgen(
    ctx: Context,
    url: str,
    name: str,
    rate: float,
    seconds: float,
    *,
    connections: int | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """bench/loadgen.py (constant rate, open loop) in its own process."""
    out = ctx.workdir / f"loadgen-{name}.json"
    command = ["--url", url, "--requests", str(ctx.requests_file), "--tag", ctx.tag(name)]
    command += ["--rate", f"{rate:.3f}", "--seconds", str(seconds), "--out", str(out)]
    command += ["--connections", str(connections or ctx.params.loadgen_connections)]
    command += ["--timeout", str(timeout)]
    child = Child([PYTHON, "-m", "bench.loadgen", *command], ctx.workdir / "loadgen.log")
    try:
        child.proc.wait(seconds + timeout + 120)
    except subprocess.TimeoutExpired:
        child.stop()
        raise
    if child.proc.returncode != 0:
        raise RuntimeError(f"loadgen failed; see {ctx.workdir / 'loadgen.log'}")
    result: dict[str, Any] = orjson.loads(out.read_bytes())
    return result


class Bare:
    """Baseline A (optionally relaying to the sink) in its own process."""

    def __init__(self, ctx: Context, forward: list[str] | None = None) -> None:
        self.port = free_port()
        args = ["server", "--port", str(self.port), "--concurrency", str(ctx.params.concurrency)]
        if forward:
            args += ["--forward", *forward]
        self.child = Child([PYTHON, "-m", "bench.bare", *args], ctx.workdir / "bare.log")
        wait_port(self.port, self.child.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/v1/shop"

    def __enter__(self) -> Bare:
        return self

    def __exit__(self, *_: object) -> None:
        self.child.stop()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 3)

    return {
        "count": len(ordered),
        "p50": at(50),
        "p90": at(90),
        "p99": at(99),
        "p999": at(99.9),
        "max": round(ordered[-1], 3),
    }


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """A loadgen result without its long lists."""
    return {
        "rate": round(result["rate"], 1),
        "scheduled": result["scheduled"],
        "statuses": result["statuses"],
        "unfinished": result["unfinished"],
        "connections": result["connections"],
        "connections_opened": result.get("connections_opened"),
        "by_second": result.get("by_second"),
        "generator_lag_ms_p99": round(result["lag_ms_p99"], 2),
        "latency_ms": percentiles(result["latencies_ms"]),
    }


def cpu_per(
    cores: dict[str, float], rate: float, parts: tuple[str, ...] = ("server", "postgres")
) -> float | None:
    """Microseconds of CPU per request (or delivery) spent by ``parts``: unlike the rate,
    this hardly changes when other processes take cores away."""
    used = sum(cores.get(part, 0.0) for part in parts)
    return used / rate * 1e6 if rate and used else None


def receipt_rate(stats: dict[str, Any]) -> float:
    """Receipts per second between the sink's first and last receipt."""
    span = (stats["last"] or 0) - (stats["first"] or 0)
    return (stats["count"] - 1) / span if stats["count"] > 1 and span > 0 else 0.0


def end_to_end(
    acks: list[tuple[str, float]], arrivals: list[tuple[str, str, float]]
) -> dict[str, Any]:
    """Per delivery, the sink's receipt time minus the sender's send time (ms)."""
    sent = dict(acks)
    latencies: list[float] = []
    received: dict[str, set[str]] = {}
    for webhook_id, path, at in arrivals:  # in order of receipt: the first one counts
        if webhook_id in sent and path not in received.setdefault(webhook_id, set()):
            latencies.append((at - sent[webhook_id]) * 1000)
            received[webhook_id].add(path)
    missing = sum(1 for event_id in sent if len(received.get(event_id, ())) < 2)
    return {"latencies": latencies, "events": len(sent), "undelivered_events": missing}
