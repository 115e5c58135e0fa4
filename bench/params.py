"""Sizes and durations of a run: the full defaults fit a 2-core machine in about 18 min."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.gateway import apply_overrides
from gateway.config import DeliveryConfig


@dataclasses.dataclass(slots=True)
class Params:
    requests: int = 60_000  # distinct signed bodies in the request file
    # WAL segments made before the workloads, as a long-running server has them recycled
    # (bench/db.py, Server.warm_wal); the embedded server keeps 2 GB (min_wal_size). 0: none.
    warm_wal_mb: int = 2048
    wrk_threads: int = 1
    # Workload 1's saturation is each side's best of two wrk runs: with as many senders as
    # workload 2 has, and with fewer (0: that run only). See bench/README.md.
    wrk_connections: int = 256
    wrk_connections_few: int = 64
    warmup_seconds: float = 3.0
    saturation_seconds: float = 15.0  # workload 1
    latency_seconds: float = 20.0  # workload 2
    # Workload 2 runs this long at its rate before the measured part, from a page cache
    # with nothing left to write (os.sync): what workload 1 dirtied is not written back in
    # the middle of it, and its own pages' write-back (30 s after they were dirtied,
    # vm.dirty_expire_centisecs) falls in the measured part, as in a steady state.
    latency_settle_seconds: float = 35.0
    latency_fraction: float = 0.5
    fsync_seconds: int = 1  # workload 2: pg_test_fsync's seconds for each flush method
    loadgen_connections: int = 256
    backlog: int = 100_000  # workload 3: deliveries (two per event)
    drain_timeout: float = 600.0
    e2e_rate: float = 500.0  # workload 4
    e2e_seconds: float = 30.0
    burst_factor: float = 2.0  # workload 5
    burst_seconds: float = 30.0
    burst_connections: int = 2048
    sender_timeout: float = 5.0  # Shopify gives up after about 5 s
    settle_timeout: float = 600.0
    claim_rows: int = 1_000_000  # workload 6: pending deliveries
    claim_samples: int = 20
    claim_drain_seconds: float = 20.0
    filter_rounds: int = 2  # workload 7: runs with and without the filtered subscribers
    trace_rounds: int = 5  # workload 10: runs with tracing off, at 1.0 and at 0.1
    # Workload 9: events already stored (each with two finished deliveries), and how many
    # times the grown and the empty database are measured, alternated. Run it alone
    # (--only 9): the full size takes about 20 minutes and 62 GB of disk (bench/README.md).
    growth_events: int = 10_000_000
    growth_rounds: int = 2
    growth_insert_events: int = 20_000  # random ids stored after a checkpoint, SQL alone
    profile_seconds: float = 15.0
    shape: str = "split"  # workloads 4 and 5: the chart's default, or "all" (make serve)
    saturation_rate: float = 0.0  # for 2 and 5 without 1: the gateway's saturation (req/s)
    max_rate: float | None = None  # caps every constant rate (smoke)
    smoke: bool = False
    profile: bool = False
    keep: bool = False
    workloads: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 10)  # 9 runs when asked for (--only)
    overrides: list[str] = dataclasses.field(default_factory=list)
    out: Path = Path(__file__).resolve().parent / "results"

    def rate(self, rate: float) -> float:
        return min(rate, self.max_rate) if self.max_rate else rate

    def delivery(self, key: str) -> Any:
        """``delivery.<key>`` as the gateway under test has it: overridden, or shipped."""
        overridden: dict[str, dict[str, Any]] = {}
        apply_overrides(overridden, self.overrides)  # parsed as the gateway's config gets them
        return overridden.get("delivery", {}).get(key, getattr(DeliveryConfig(), key))

    @property
    def concurrency(self) -> int:
        """The dispatcher's concurrency (baseline B uses the same)."""
        return int(self.delivery("concurrency"))


def smoke() -> Params:
    """Seconds, tiny numbers: proves every part of the harness still runs."""
    return Params(
        requests=500,
        warm_wal_mb=64,
        wrk_connections=8,
        wrk_connections_few=4,
        warmup_seconds=0,
        saturation_seconds=1,
        latency_seconds=1,
        latency_settle_seconds=0,
        loadgen_connections=16,
        backlog=200,
        drain_timeout=60,
        e2e_rate=50,
        e2e_seconds=1,
        burst_seconds=1,
        burst_connections=64,
        settle_timeout=60,
        claim_rows=1000,
        claim_samples=3,
        claim_drain_seconds=1,
        filter_rounds=1,
        trace_rounds=1,
        growth_events=2000,
        growth_rounds=1,
        growth_insert_events=256,
        profile_seconds=1,
        max_rate=100,
        smoke=True,
        workloads=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    )
