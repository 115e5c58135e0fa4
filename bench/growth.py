"""Workload 9: what the gateway costs once data has grown.

A template holding ``growth_events`` events and two finished deliveries each
(bench/history.py: receipt times over the retention window and a day beyond it), seeded
once and VACUUMed; every measurement runs on a fresh copy of it, or of the empty
template (the two subscribers only), alternated ``growth_rounds`` times:

- ingest saturation, workload 1's way (wrk at ``wrk_connections``, ``--role ingress``);
- the claim with workload 3's backlog pending on top: median of ``claim_samples``
  ``EXPLAIN ANALYZE`` runs, rolled back, and the buffers it touched; measured on the
  grown copy and on an empty database side by side, their runs alternated (the
  machine's speed moves between the minutes of one round and the next), both VACUUMed
  once the backlog is stored (autovacuum would reach the empty side's first);
- ``growth_insert_events`` events whose senders' ids are random UUIDs (as Shopify's
  are), stored just after a checkpoint by the writer's ``insert_batch`` in SQL alone
  (bench/storecost.py): the backend's CPU and the WAL an event. Each index leaf such an
  id lands on writes a full-page image the first time it changes after a checkpoint,
  and a grown database has many more leaves than one cycle's events share;
- one round of the gateway's retention (``gateway.maintenance.retention``, the shipped
  ``[retention]`` settings and any ``--set retention.…``) removing what is older than
  the window, while wrk saturates the ingress again. On the empty side the history's
  rows old enough to go are stored first, alone; both sides are VACUUMed before it, and
  checkpointed: the rows retention removes were stored checkpoints ago, so each page it
  changes first writes its full-page image (on the empty side, without the checkpoint,
  they would be seconds old, which month-old rows never are).

The table and index sizes are read from the grown template before any measurement.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import db
from bench.common import Context, cpu_per, wrk_run
from bench.db import TEMPLATE
from bench.drain import claim_args
from bench.gateway import apply_overrides
from bench.history import Window, relation_sizes, seed_history, vacuum
from bench.payloads import SOURCE, Signed, read_requests
from bench.report import Row
from bench.storecost import store_cost
from gateway.config import DatabaseConfig, RetentionConfig
from gateway.maintenance.retention import Retention
from gateway.observability import Metrics
from gateway.store.database import Database

__all__ = ["growth"]

GROWN = "bench_template_grown"
DATABASE = "bench_w9"
CLAIMED_EMPTY = "bench_w9_claim"
"""An empty database the claim runs on beside the grown copy, their samples alternated."""
MB = 1024 * 1024

BYTES_PER_EVENT = 2900
"""Disk an event of the history takes with its two deliveries, all their indexes and
maps (2.63 GB a million events, measured at 1 and 3 million), with a margin; the check
before seeding uses it."""
RANDOM_IDS_BATCH = 64  # events a statement, as the writer's batches come at saturation
WAL_HEADROOM = 8 * 1024 * MB  # the embedded server's max_wal_size and min_wal_size, and more


def growth(ctx: Context) -> list[Row]:
    p = ctx.params
    retention = _retention_config(p.overrides)
    window = Window(
        p.growth_events,
        datetime.now(UTC),
        days=retention.events_days + 1,
        kept_days=retention.events_days,
    )
    _check_disk(ctx, p.growth_events)
    seeded, sizes = _template(ctx, window)
    runs: dict[str, list[dict[str, Any]]] = {"empty": [], "grown": []}
    try:
        for round_ in range(p.growth_rounds):
            measured = {kind: _measure(ctx, kind, round_, window, retention) for kind in runs}
            claims = measured["grown"].pop("claims")
            for kind, run in measured.items():
                run["claim"] = {k: v for k, v in claims[kind].items() if k != "plan"}
                run["claim_plan"] = claims[kind]["plan"]
                runs[kind].append(run)
    finally:
        if not p.keep:  # many GB: given back at once
            for name in (DATABASE, CLAIMED_EMPTY, GROWN):
                ctx.server.drop(name)
    ctx.results["w9"] = {"seeded": seeded, "sizes": sizes, "runs": runs}
    return _rows(p.growth_events, retention.batch_size, runs, sizes)


def _retention_config(overrides: list[str]) -> RetentionConfig:
    """``[retention]`` as the gateway under test has it: shipped, or overridden."""
    config: dict[str, dict[str, Any]] = {}
    apply_overrides(config, overrides)
    return RetentionConfig(**config.get("retention", {}))


def _check_disk(ctx: Context, events: int) -> None:
    """Stop before seeding what the disk cannot hold: the template and one copy of it."""
    needed = 2 * events * BYTES_PER_EVENT + WAL_HEADROOM
    free = shutil.disk_usage(ctx.workdir).free
    if free < needed:
        raise RuntimeError(
            f"workload 9 with {events:,} events needs about {needed / 1024**3:.0f} GB free"
            f" under {ctx.workdir.parent}, and {free / 1024**3:.0f} GB are: lower"
            " --growth-events"
        )


def _template(ctx: Context, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grown template, and its sizes."""
    url = ctx.server.create(GROWN, TEMPLATE)
    ctx.log(f"workload 9: storing the history ({window.events:,} events)")

    def progress(done: int, seconds: float) -> None:
        rate = done / seconds
        left = (window.events - done) / rate
        ctx.log(f"  {done:,} events in {seconds:.0f} s ({rate:,.0f}/s; {left:.0f} s to go)")

    seeded = ctx.server.run(seed_history(url, window, *_history_args(ctx), progress=progress))
    ctx.log(f"  {seeded}")
    sizes = ctx.server.run(relation_sizes(url))
    return seeded, sizes


def _history_args(ctx: Context) -> tuple[list[Signed], int]:
    return read_requests(ctx.requests_file), int(ctx.params.delivery("max_attempts"))


def _measure(
    ctx: Context, kind: str, round_: int, window: Window, retention: RetentionConfig
) -> dict[str, Any]:
    p = ctx.params
    name = f"w9-{kind}-{round_}"
    grown = kind == "grown"
    url = ctx.server.create(DATABASE, GROWN if grown else TEMPLATE, file_copy=grown)
    requests = read_requests(ctx.requests_file)
    pending = ctx.server.run(db.seed(url, p.backlog // 2, requests))
    # Autovacuum would take the new rows of an empty copy soon (they are most of its
    # table), at a moment of its choosing, and a grown copy's not for long (a fifth of
    # its rows must change first): both are vacuumed now, so that neither side is
    # measured beside it.
    ctx.server.run(vacuum(url))
    claims = _claims(ctx, url, requests) if grown else None
    stored = _random_ids_after_checkpoint(ctx, url, name, requests)
    ctx.log(
        f"workload 9, {kind}: random ids after a checkpoint,"
        f" {stored['backend_cpu_us_per_event']:.0f} us and"
        f" {stored['wal_bytes_per_event']:,} WAL bytes an event (SQL alone)"
    )
    gateway = ctx.gateway(name, url, "ingress")
    try:
        if p.warmup_seconds:
            wrk_run(ctx, gateway.ingest_url, f"{name}-warm", p.warmup_seconds)
        with ctx.cpu(server=gateway.pid) as cpu:
            alone = wrk_run(ctx, gateway.ingest_url, name, p.saturation_seconds)
        ingest = {"rate": alone.rate, "cpu_us": cpu_per(cpu.cores, alone.rate)}
        ctx.log(
            f"workload 9, {kind}: {alone.rate:.0f} req/s, {ingest['cpu_us'] or 0:.0f} us of CPU"
            f" a request; cores used: {cpu.cores}"
        )
        if grown:
            expired = None
            ctx.server.run(vacuum(url))
        else:  # the history's rows old enough to go, alone
            expired = ctx.server.run(
                seed_history(url, window, *_history_args(ctx), expired_only=True)
            )
        ctx.server.checkpoint()  # the rows to go written checkpoints ago, as in production
        batches = ctx.server.run(
            db.explain_retention(
                url, SOURCE, window.expired_before, _dead_before(window, retention),
                retention.batch_size,
            )
        )  # fmt: skip
        ctx.server.checkpoint()  # again: the explained batches changed pages, rolled back
        removed = _retention_under_load(ctx, gateway, url, f"{name}-retention", window, retention)
    finally:
        gateway.stop()
    ctx.log(
        "  a retention batch: "
        + "; ".join(
            f"{part} {b['execution_ms']:.1f} ms, {b['shared_buffers']} buffers"
            for part, b in batches.items()
        )
    )
    return {
        "expired_seeded": expired,
        "retention_batches": {
            f"{part}_{key}": value
            for part, batch in batches.items()
            for key, value in batch.items()
            if key != "plan"
        },
        "retention_plans": {k: b["plan"] for k, b in batches.items()},
        "ingest": {**ingest, "cpu_cores": cpu.cores},
        **({"claims": claims} if claims else {}),
        "random_ids": stored,
        "pending_seeded": pending["pending"],
        "retention": removed,
    }


def _claims(ctx: Context, url: str, requests: list[Signed]) -> dict[str, dict[str, Any]]:
    """The claim on the grown copy at ``url`` and on an empty one, their samples
    alternated (``db.explain_claims``), each with the same backlog pending, VACUUMed."""
    p = ctx.params
    empty = ctx.server.create(CLAIMED_EMPTY, TEMPLATE)
    try:
        ctx.server.run(db.seed(empty, p.backlog // 2, requests))
        ctx.server.run(vacuum(empty))  # as the grown copy was (see _measure)
        urls = {"grown": url, "empty": empty}
        claims: dict[str, dict[str, Any]] = ctx.server.run(
            db.explain_claims(urls, *claim_args(p), 60.0, p.claim_samples)
        )
    finally:
        ctx.server.drop(CLAIMED_EMPTY)
    for kind, claim in claims.items():
        ctx.log(
            f"workload 9, {kind}: claim {claim['execution_ms_median']:.2f} ms,"
            f" {claim['shared_buffers']} buffers ({claim['pending']:,} pending)"
        )
    return claims


def _random_ids_after_checkpoint(
    ctx: Context, url: str, tag: str, requests: list[Signed]
) -> dict[str, float]:
    """``growth_insert_events`` of ``requests``' bodies, with random ids, stored on
    ``url`` right after a checkpoint."""
    count = ctx.params.growth_insert_events
    bodies = [requests[n % len(requests)].body for n in range(count)]
    ctx.server.checkpoint()
    figures: dict[str, float] = ctx.server.run(
        store_cost(url, bodies, RANDOM_IDS_BATCH, tag, judged=False, uuid_ids=True)
    )
    return figures


def _dead_before(window: Window, config: RetentionConfig) -> datetime | None:
    """Retention's dead-letter cutoff at the history's ``now`` (None: kept for ever)."""
    days = config.dead_letter_days
    return window.now - timedelta(days=days) if days > 0 else None


def _retention_under_load(
    ctx: Context,
    gateway: Any,
    url: str,
    name: str,
    window: Window,
    config: RetentionConfig,
) -> dict[str, Any]:
    """One retention round as the gateway's worker runs it (its clock at the history's
    ``now``), beside wrk saturating ``gateway``; the round's rows removed a second and
    the ingest's rate while both ran."""
    done: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            done["round"] = asyncio.run(_retention_round(url, config, window.now))
        finally:
            done["ended"] = time.monotonic() - started

    thread = threading.Thread(target=run, name="w9-retention", daemon=True)
    with ctx.cpu(server=gateway.pid) as cpu:
        thread.start()
        load = wrk_run(ctx, gateway.ingest_url, name, ctx.params.saturation_seconds)
    thread.join(timeout=ctx.params.drain_timeout)
    if "round" not in done:
        raise RuntimeError(f"workload 9: the retention round did not end ({name})")
    round_ = done["round"]
    removed = sum(round_.deleted.values())
    rate = removed / round_.seconds if round_.seconds else 0.0
    ctx.log(
        f"  retention: {removed:,} rows in {round_.seconds:.1f} s ({rate:,.0f}/s),"
        f" {round_.deleted}; ingest meanwhile {load.rate:.0f} req/s"
    )
    return {
        "deleted": round_.deleted,
        "removed": removed,
        "seconds": round(round_.seconds, 2),
        "rate": rate,
        "ingest_rate": load.rate,
        "ingest_seconds": ctx.params.saturation_seconds,
        "ingest_cpu_us": cpu_per(cpu.cores, load.rate),
        "cpu_cores": cpu.cores,
    }


async def _retention_round(url: str, config: RetentionConfig, now: datetime) -> Any:
    database = DatabaseConfig()
    pool = await Database.connect(
        url,
        min_size=1,
        max_size=2,
        connect_timeout=database.connect_timeout_seconds,
        command_timeout=database.command_timeout_seconds,
    )
    try:
        return await Retention(pool, config, Metrics(), clock=lambda: now).run_once()
    finally:
        await pool.close()


def _median(runs: list[dict[str, Any]], part: str, key: str) -> float | None:
    values = [v for run in runs if (v := run[part][key]) is not None]
    return statistics.median(values) if values else None


def _rows(
    events: int, batch: int, runs: dict[str, list[dict[str, Any]]], sizes: dict[str, Any]
) -> list[Row]:
    grown, empty = runs["grown"], runs["empty"]
    stored = f"{events:,} events stored"
    pending = grown[0]["claim"]["pending"] if grown else 0
    rows = [
        Row(9, f"ingest saturation, {stored}", "req/s", _median(grown, "ingest", "rate"),
            _median(empty, "ingest", "rate"), "empty", ">= 0.9 x", ratio_goal=0.9),
        Row(9, "  CPU per request (server + PostgreSQL)", "us",
            _median(grown, "ingest", "cpu_us"), _median(empty, "ingest", "cpu_us"), "empty"),
        Row(9, f"claim with {pending:,} pending, {stored}: execution", "ms",
            _median(grown, "claim", "execution_ms_median"),
            _median(empty, "claim", "execution_ms_median"), "empty", "<= 1.1 x",
            ratio_limit=1.1),
        Row(9, "  shared buffers the claim touched", "buffers",
            _median(grown, "claim", "shared_buffers"), _median(empty, "claim", "shared_buffers"),
            "empty"),
        Row(9, "random ids after a checkpoint, SQL alone: CPU an event", "us",
            _median(grown, "random_ids", "backend_cpu_us_per_event"),
            _median(empty, "random_ids", "backend_cpu_us_per_event"), "empty"),
        Row(9, "  WAL an event", "bytes", _median(grown, "random_ids", "wal_bytes_per_event"),
            _median(empty, "random_ids", "wal_bytes_per_event"), "empty"),
        Row(9, f"retention, {stored}: rows removed", "rows/s",
            _median(grown, "retention", "rate"), _median(empty, "retention", "rate"),
            "those rows alone", ">= 0.9 x", ratio_goal=0.9),
        *(
            Row(9, f"  a batch of {batch:,} {what}: {label}", unit,
                _median(grown, "retention_batches", f"{part}_{key}"),
                _median(empty, "retention_batches", f"{part}_{key}"), "those rows alone")
            for part, what in (("deliveries", "finished deliveries"), ("events", "events"))
            for key, label, unit in (("shared_buffers", "shared buffers", "buffers"),
                                     ("wal_bytes", "WAL written", "bytes"))
        ),
        Row(9, "  ingest saturation during the round", "req/s",
            _median(grown, "retention", "ingest_rate"), _median(grown, "ingest", "rate"),
            "no round"),
    ]  # fmt: skip
    per = 1e6 / events if events else 0.0
    for table, info in sizes["tables"].items():
        rows.append(Row(9, f"{table} per million events: heap", "MB", info["heap"] * per / MB,
                        None, ""))  # fmt: skip
        rows.append(Row(9, f"  {table} TOAST", "MB", info["toast"] * per / MB, None, ""))
        for index in sizes["indexes"]:
            if index["table"] == table:
                rows.append(Row(9, f"  {index['name']}", "MB", index["bytes"] * per / MB, None, ""))
        rows.append(Row(9, f"  {table}: every index", "MB", info["indexes"] * per / MB, None, ""))
    both = sum(t["heap"] + t["toast"] + t["indexes"] for t in sizes["tables"].values())
    rows.append(Row(9, "events and deliveries per million events", "MB", both * per / MB, None, ""))
    return rows
