"""``python -m bench.filter_cost`` still runs end to end (tiny sizes; its figures are
printed, never judged here)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(180)]


def test_the_filter_cost_bench_prints_postgres_figures_with_senders_uuids() -> None:
    command = [sys.executable, "-m", "bench.filter_cost", "--batches", "3", "--batch", "8"]
    command += ["--rounds", "1", "--uuid-ids"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=160)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = re.findall(r"^round 1 PostgreSQL, (no filter |10 filters) (\{.*\})$", done.stdout, re.M)
    assert [label for label, _ in rows] == ["no filter ", "10 filters"], done.stdout
    for _, text in rows:
        figures = ast.literal_eval(text)
        assert figures["backend_cpu_us_per_event"] >= 0
        assert figures["wal_bytes_per_event"] > 1000  # an event's row alone holds its body
        assert figures["deliveries_per_event"] == 2.0
