"""Saturation load with ``wrk`` and bench/shopify.lua."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("shopify.lua")
INSTALL_HINT = (
    "wrk is not installed: the ingest workloads need it as their load generator "
    "(Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)"
)


class WrkMissing(RuntimeError):
    """wrk is not on PATH."""


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(INSTALL_HINT)
    return path


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run. ``rate`` counts 2xx answers only: a refusal (a 503 while the
    gateway sheds load) is an answer, not throughput."""

    requests: int
    seconds: float
    rate: float
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    cycles: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "answered_rate": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "statuses": self.statuses,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "file_cycles": self.cycles,
        }


def run_wrk(
    url: str,
    requests_file: Path,
    tag: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    stop_after: int = 0,
    timeout: float = 10.0,
) -> WrkResult:
    """Run wrk against ``url`` for ``seconds`` (or until ``stop_after`` answers)."""
    per_thread = -(-stop_after // threads) if stop_after else 0
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout:g}s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(requests_file),
        tag,
        str(threads),
        str(per_thread),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + timeout + 120, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            return _parse(json.loads(line.removeprefix("BENCH-JSON ")))
    raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _parse(raw: dict[str, Any]) -> WrkResult:
    seconds = raw["duration_us"] / 1e6
    latency = {k: round(v / 1000, 3) for k, v in raw["latency_us"].items()}
    statuses = dict(sorted(raw["statuses"].items()))
    accepted = sum(n for status, n in statuses.items() if status.startswith("2"))
    return WrkResult(
        requests=raw["requests"],
        seconds=seconds,
        rate=accepted / seconds if seconds else 0.0,
        statuses=statuses,
        errors={k: v for k, v in raw["errors"].items() if v},
        latency_ms=latency,
        cycles=raw["cycles"],
    )
