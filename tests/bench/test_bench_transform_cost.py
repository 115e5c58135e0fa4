"""``python -m bench.transform_cost`` still runs end to end (tiny sizes; its figures are
printed, never judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(300)]


def test_the_transform_cost_bench_prints_its_figures() -> None:
    command = [sys.executable, "-m", "bench.transform_cost", "--calls", "300", "--warm-up",
               "50", "--rounds", "1", "--send-ms", "0.5"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^round 1: .* us a call in the gateway's process", done.stdout, re.M)
    assert re.search(r"^median: .* the QuickJS run alone [\d.]+ us$", done.stdout, re.M)
