"""Workload 7: what content filters cost an ingested event.

Workload 1's saturation (wrk at ``wrk_connections``, after the warm-up), on a gateway whose
database holds the two subscribers, and on one that also holds the ten filtered ones of
bench/filters.py, alternated ``filter_rounds`` times, each run on a fresh clone. The
figure is the CPU per request (the ingress process and PostgreSQL): the ingress judges
each event by the filters, and the statement that stores the events takes its verdicts
(evaluating a filter itself only where there is none), so their cost is shared.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import Context, cpu_per, wrk_run
from bench.db import FILTERED, TEMPLATE
from bench.report import Row

__all__ = ["filters"]


def filters(ctx: Context) -> list[Row]:
    p = ctx.params
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "filtered": []}
    for round_ in range(p.filter_rounds):
        for kind, template in (("plain", TEMPLATE), ("filtered", FILTERED)):
            name = f"w7-{kind}-{round_}"
            gateway = ctx.gateway(name, ctx.server.create("bench_w7", template), "ingress")
            try:
                if p.warmup_seconds:
                    wrk_run(ctx, gateway.ingest_url, f"{name}-warm", p.warmup_seconds)
                with ctx.cpu(server=gateway.pid) as cpu:
                    result = wrk_run(ctx, gateway.ingest_url, name, p.saturation_seconds)
            finally:
                gateway.stop()
            run = {"rate": result.rate, "cpu_us": cpu_per(cpu.cores, result.rate)}
            runs[kind].append({**run, "cpu_cores": cpu.cores})
            ctx.log(
                f"workload 7, {kind}: {result.rate:.0f} req/s, {run['cpu_us'] or 0:.0f} us of"
                f" CPU a request; cores used: {cpu.cores}"
            )
    plain, filtered = (_median(runs[k], "cpu_us") for k in ("plain", "filtered"))
    ctx.results["w7"] = {f"{kind}-{n}": run for kind in runs for n, run in enumerate(runs[kind])}
    return [
        Row(7, "CPU per request, 10 filtered subscribers beside the 2", "us", filtered, plain,
            "no filter", "<= 1.1 x", ratio_limit=1.1),
        Row(7, "  ingest saturation, 10 filtered subscribers", "req/s",
            _median(runs["filtered"], "rate"), _median(runs["plain"], "rate"), "no filter"),
    ]  # fmt: skip


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [v for run in runs if (v := run[key]) is not None]
    return statistics.median(values) if values else None
