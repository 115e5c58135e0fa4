"""``python -m bench.otlp_cost`` still runs end to end (a tiny batch; its figures are
printed, never judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(120)]


def test_the_otlp_encoding_bench_prints_a_figure_for_each_way() -> None:
    command = [sys.executable, "-m", "bench.otlp_cost", "--batch", "64", "--rounds", "10"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^6\d spans a batch", done.stdout, re.M)
    for way in ("pipe  read", "http  sdk ", "http  lean", "grpc  sdk ", "grpc  lean"):
        assert re.search(rf"^{way} +\d+ µs a batch +[\d.]+ µs a span$", done.stdout, re.M), way


def test_the_exporter_process_bench_prints_its_cpu_and_faults_a_webhook() -> None:
    command = [
        sys.executable,
        "-m",
        "bench.otlp_cost",
        "--process",
        "3000",
        "--process-rounds",
        "1",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the exporter process, 3000 webhooks (three spans each), median of 1" in done.stdout
    for part in ("user  ", "system"):
        assert re.search(rf"^{part} +-?[\d.]+ µs a webhook$", done.stdout, re.M), part
    assert re.search(r"^faults +-?[\d.]+ minor page faults a webhook$", done.stdout, re.M)


def test_the_loops_share_of_a_traced_webhook_is_printed() -> None:
    command = [sys.executable, "-m", "bench.otlp_cost", "--loop", "2000"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(
        r"^a traced webhook on the loop +[\d.]+ µs \(2000 webhooks\)$", done.stdout, re.M
    )
