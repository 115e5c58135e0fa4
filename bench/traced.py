"""Workload 10: what tracing costs an ingested webhook.

Workload 1's saturation (wrk at ``wrk_connections``, after the warm-up) on a gateway with
tracing off, at ``sampling_ratio`` 1.0 and at 0.1, alternated ``trace_rounds`` times in
the same run, each on a fresh clone, exporting to the harness's discarding OTLP collector;
each round begins with the setting after the one the round before began with, so none is
always the first after a pause or always behind the same neighbour. The figure is the
CPU per request (the ingress process with its exporter process, and PostgreSQL), the
median of the rounds: the machine's speed drifts by more than the effect between
separate runs, so only settings measured side by side compare. With ``--profile`` each
run is recorded with py-spy (``profile-w10-<setting>-<round>.txt``). Spans
dropped are counted (``gateway_trace_spans_dropped_total``): a span not exported costs
less, so a run that dropped any flatters tracing and says so.
"""

from __future__ import annotations

import statistics
from typing import Any

import psutil

from bench.common import Context, cpu_per, wrk_run
from bench.ingest import trace_spans_dropped
from bench.procs import profiled
from bench.report import Row

__all__ = ["tracing_cost"]

SETTINGS: dict[str, dict[str, Any]] = {
    "off": {"enabled": False},
    "1.0": {"enabled": True, "sampling_ratio": 1.0},
    "0.1": {"enabled": True, "sampling_ratio": 0.1},
}


def tracing_cost(ctx: Context) -> list[Row]:
    p = ctx.params
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SETTINGS}
    kinds = list(SETTINGS)
    for round_ in range(p.trace_rounds):
        turn = round_ % len(kinds)
        for kind in kinds[turn:] + kinds[:turn]:
            tracing = SETTINGS[kind]
            name = f"w10-{kind}-{round_}"
            url = ctx.database("bench_w10")
            gateway = ctx.gateway(name, url, "ingress", {"tracing": dict(tracing)})
            try:
                if p.warmup_seconds:
                    wrk_run(ctx, gateway.ingest_url, f"{name}-warm", p.warmup_seconds)
                children = psutil.Process(gateway.pid).children()  # the exporter, if any
                within = {"exporter": children[0].pid} if children else {}
                seconds = min(p.profile_seconds, p.saturation_seconds)
                profile = profiled(gateway.pid, ctx.profile_path(name), seconds)
                with profile, ctx.cpu(within, server=gateway.pid) as cpu:
                    result = wrk_run(ctx, gateway.ingest_url, name, p.saturation_seconds)
                dropped = trace_spans_dropped(gateway) if tracing["enabled"] else {}
            finally:
                gateway.stop()
            run = {
                "rate": result.rate,
                "cpu_us": cpu_per(cpu.cores, result.rate),
                "cpu_cores": cpu.cores,
                "spans_dropped": dropped,
                "exporter_us": cpu_per(cpu.within_cores, result.rate, ("exporter",)),
            }
            runs[kind].append(run)
            ctx.log(
                f"workload 10, tracing {kind}: {result.rate:.0f} req/s, {run['cpu_us'] or 0:.0f}"
                f" us of CPU a request; cores used: {cpu.cores}"
                + (f"; the exporter {run['exporter_us']:.1f} us" if run["exporter_us"] else "")
                + (f"; spans dropped: {dropped}" if dropped else "")
            )
    ctx.results["w10"] = {f"{kind}-{n}": run for kind in runs for n, run in enumerate(runs[kind])}
    off, full, tenth = (_median(runs[kind], "cpu_us") for kind in SETTINGS)
    dropped = sum(sum(run["spans_dropped"].values()) for kind in runs for run in runs[kind])
    return [
        Row(10, "CPU per request, tracing at sampling 1.0", "us", full, off, "off",
            "<= 1.15 x", ratio_limit=1.15),
        Row(10, "  CPU of it in the exporter process", "us",
            _median(runs["1.0"], "exporter_us"), None, "", ""),
        Row(10, "CPU per request, tracing at sampling 0.1", "us", tenth, off, "off",
            "<= 1.03 x", ratio_limit=1.03),
        Row(10, "  trace spans dropped (all runs)", "spans", dropped, None, "", "0",
            limit=0),
    ]  # fmt: skip


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [v for run in runs if (v := run[key]) is not None]
    return statistics.median(values) if values else None
