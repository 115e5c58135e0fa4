"""Benchmark the gateway against bare aiohttp baselines measured in the same run.

    make bench                              # the full run (about 18 minutes on 2 cores)
    python bench/run.py --smoke             # seconds: checks that the harness still works
    python bench/run.py --only 1,2 --set writer.batch_max=512 --profile

Everything runs on loopback and is started here: the embedded PostgreSQL (in a temporary
directory under /tmp), the gateway as ``webhook-gateway serve`` subprocesses, the sink,
the baselines and the load generators. Results go to bench/results/ (table, JSON, PNG).
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    brokers,
    drain,
    filtered,
    growth,
    ingest,
    payloads,
    queue_source,
    report,
    traced,
)
from bench.common import Context
from bench.db import FILTERED, TEMPLATE, Server
from bench.filters import FILTERS
from bench.gateway import SHAPES
from bench.params import Params, smoke
from bench.procs import ROOT, Sink, py_spy
from bench.wrk import INSTALL_HINT, WrkMissing, wrk_path


def parse(argv: list[str] | None) -> Params:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no goals judged")
    parser.add_argument("--only", help="workloads to run, e.g. 1,2 (2 and 5 need 1's rate)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="gateway config override, e.g. writer.batch_max=512",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the gateway with py-spy during workloads 1 to 5 and 10",
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default=Params().shape,
        help="workloads 4 and 5: an ingress and a worker process (the chart's default), or"
        " one process with --role all (make serve)",
    )
    parser.add_argument("--out", type=Path, help="results directory (default bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    defaults = Params()
    for field in dataclasses.fields(Params):
        value = getattr(defaults, field.name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parser.add_argument(
                f"--{field.name.replace('_', '-')}", type=type(value), help=f"default {value}"
            )
    args = parser.parse_args(argv)
    params = smoke() if args.smoke else Params()
    for field in dataclasses.fields(Params):
        given = getattr(args, field.name, None)
        if given is not None and field.name not in ("smoke", "profile", "keep", "out"):
            setattr(params, field.name, given)
    if args.only:
        params.workloads = tuple(int(w) for w in args.only.split(","))
        if 2 in params.workloads and 1 not in params.workloads:
            parser.error("workload 2 runs in workload 1's phase, at half its rate: --only 1,2")
    params.overrides = list(args.set)
    params.profile = args.profile
    params.shape = args.shape
    params.keep = args.keep
    if args.out:
        params.out = args.out
    return params


def main(argv: list[str] | None = None) -> int:
    params = parse(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop the children on the way out
    if {1, 7, 9, 10} & set(params.workloads):
        try:
            wrk_path()
        except WrkMissing:
            print(f"bench: {INSTALL_HINT}", file=sys.stderr)
            return 3
    if params.profile and py_spy() is None:
        print("bench: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 3
    _raise_file_limit()
    params.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="webhook-gateway-bench-", dir="/tmp"))
    ok = False
    try:
        rows, ctx = _run(params, workdir)
        ok = True
    finally:
        if ok and not params.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench: logs and data kept in {workdir}", file=sys.stderr)
    _publish(params, rows, ctx)
    return 0


def _run(params: Params, workdir: Path) -> tuple[list[report.Row], Context]:
    started = time.monotonic()
    requests_file = workdir / "requests.txt"
    count, mean = payloads.write_requests(requests_file, params.requests)
    print(f"[bench] {count} signed orders/create requests, {mean:.0f} bytes on average")
    server = Server(workdir / "data")
    sink = Sink(workdir)
    ctx = Context(params, workdir, requests_file, server, sink)
    ctx.results["meta_body_bytes_mean"] = round(mean, 1)
    rows: list[report.Row] = []
    try:
        _template(ctx)
        if params.warm_wal_mb:
            wal = ctx.results["wal_segments"] = server.warm_wal(params.warm_wal_mb)
            print(f"[bench] {wal['made']} WAL segments made ahead in {wal['seconds']} s")
        if 1 in params.workloads:
            rows += ingest.ingest(ctx)
        if 3 in params.workloads:
            rows += drain.backlog(ctx)
        w1 = ctx.results.get("w1", {}).get("gateway", {})
        saturation = w1.get("rate") or params.saturation_rate
        if {4, 5} & set(params.workloads):
            rows += ingest.deliver(ctx, saturation)
        if 6 in params.workloads:
            w3 = ctx.results.get("w3", {}).get("gateway", {}).get("rate")
            rows += drain.claim_cost(ctx, w3)
        if 7 in params.workloads:
            rows += filtered.filters(ctx)
        if 8 in params.workloads:
            rows += brokers.rabbitmq(ctx)
            rows += queue_source.sqs_source(ctx)
        if 9 in params.workloads:
            rows += growth.growth(ctx)
        if 10 in params.workloads:
            rows += traced.tracing_cost(ctx)
        ctx.results["postgres"] = server.settings()
    finally:
        sink.stop()
        if ctx.collector is not None:
            ctx.collector.stop()
        server.stop()
    ctx.results["seconds"] = round(time.monotonic() - started, 1)
    return rows, ctx


def _template(ctx: Context) -> None:
    """A migrated database holding the two subscribers; every workload clones it. For
    workload 7, a clone of it that also holds the ten filtered subscribers."""
    url = ctx.server.create(TEMPLATE)
    gateway = ctx.gateway("template", url, "api")
    try:
        token = gateway.token()
        for name in ("a", "b"):
            gateway.add_subscriber(token, f"warehouse-{name}", ctx.sink.url(f"/{name}"))
    finally:
        gateway.stop()
    if 7 not in ctx.params.workloads:
        return
    gateway = ctx.gateway("template-filtered", ctx.server.create(FILTERED, TEMPLATE), "api")
    try:
        token = gateway.token()
        for n, spec in enumerate(FILTERS):
            url = ctx.sink.url(f"/f{n}")
            gateway.add_subscriber(token, f"warehouse-f{n}", url, filter=spec)
    finally:
        gateway.stop()


PROFILED = {
    "ingest": "workload 1",
    "ack": "workload 2",
    "drain": "workload 3",
    "drain-transformed": "workload 3, a transform on each delivery (the worker's main process)",
    "e2e-server": "workload 4, the process taking webhooks",
    "e2e-worker": "workload 4, the worker",
    "burst-server": "workload 5, the process taking webhooks",
    "burst-worker": "workload 5, the worker",
    "w10-off-0": "workload 10, tracing off (its first round)",
    "w10-1.0-0": "workload 10, tracing at sampling 1.0 (its first round)",
}


def _publish(params: Params, rows: list[report.Row], ctx: Context) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "smoke" if params.smoke else "bench"
    profiles = {}
    for kind in PROFILED:
        path = ctx.profile_path(kind)
        if path is not None and path.exists():
            profiles[kind] = report.top_frames(path)
    if profiles:
        ctx.results["profiles"] = profiles
    meta = _meta(params)
    json_path = params.out / f"{name}-{stamp}.json"
    report.write_json(json_path, rows, ctx.results, meta)
    print()
    print(report.table(rows, params.smoke))
    print()
    for kind, frames in profiles.items():
        for part, title in (
            ("by_package", "own time by package"),
            ("own", "own time"),
            ("gateway", "inclusive time of the gateway's functions"),
        ):
            print(f"py-spy, {PROFILED[kind]}: {title} (% of samples)")
            for frame, share in frames[part][:12]:
                print(f"  {share:5.1f}  {frame}")
    noisy = _background(ctx.results)
    if noisy:
        shown = ", ".join(f"{where} {cores:.2f}" for where, cores in noisy)
        print(f"note: other processes used CPU during some phases (cores): {shown}")
    for where, peak in _disk_bursts(ctx.results):
        print(
            f"note: the disk wrote {peak:.0f} MB in one second during {where}; commits wait"
            " for their WAL flush behind such bursts (bench/README.md, workload 2)"
        )
    missed = burst_missed_by_baseline(ctx.results)
    if missed:
        print(
            f"note: baseline A, too, missed {missed:,} answers of workload 5's burst: at that"
            " rate the machine and the generator are the limit (bench/README.md, workload 5)"
        )
    print(f"results: {json_path}")
    png = params.out / f"{name}-{stamp}.png"
    if report.chart(png, rows, ctx.series):
        print(f"chart:   {png}")
    else:
        print("chart:   skipped (pip install -e '.[bench]' for matplotlib)")


def _background(results: dict[str, Any], threshold: float = 0.2) -> list[tuple[str, float]]:
    """Phases during which processes outside the bench used more than ``threshold`` cores."""
    found = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            cores = node.get("cpu_cores")
            if isinstance(cores, dict) and cores.get("others", 0) > threshold:
                found.append((where, float(cores["others"])))
            for key, value in node.items():
                walk(value, f"{where}.{key}" if where else key)

    walk(results, "")
    return found


def burst_missed_by_baseline(results: dict[str, Any]) -> int:
    """When the gateway missed answers of workload 5's burst (not sent, timed out, or
    neither 2xx nor 503), those bare aiohttp missed as well: the burst then measures the
    machine more than the gateway. 0 when either side missed none."""
    burst = results.get("w5", {})
    missed = [
        ingest.unexpected(burst[side]) if "statuses" in burst.get(side, {}) else 0
        for side in ("gateway", "baseline_a")
    ]
    return missed[1] if missed[0] else 0


def _disk_bursts(results: dict[str, Any], threshold: float = 100.0) -> list[tuple[str, float]]:
    """Latency phases during which the disks wrote more than ``threshold`` MB in a second."""
    found = []
    for name in ("w2",):
        disk = results.get(name, {}).get("gateway", {}).get("disk")
        if isinstance(disk, dict) and disk.get("peak_mb_per_s", 0) > threshold:
            found.append((f"{name}.gateway", float(disk["peak_mb_per_s"])))
    return found


def _meta(params: Params) -> dict[str, Any]:
    def command(*args: str) -> str:
        try:
            return subprocess.run(
                args, capture_output=True, text=True, timeout=10, cwd=ROOT, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": command("wrk", "-v").splitlines()[0] if shutil.which("wrk") else None,
        "commit": command("git", "rev-parse", "--short", "HEAD"),
        "working_tree_changed": bool(command("git", "status", "--porcelain")),
        "params": {k: str(v) for k, v in dataclasses.asdict(params).items()},
    }


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _raise_file_limit() -> None:
    """The burst opens thousands of connections; children inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard)
        )


if __name__ == "__main__":
    sys.exit(main())
