"""The benchmark harness still runs end to end (tiny sizes; no goal is judged here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        shutil.which("wrk") is None,
        reason="wrk is not installed (apt-get install -y wrk); .ci/run installs it",
    ),
]


def test_smoke_run_measures_every_workload(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(tmp_path)]
    harness = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = harness.communicate(timeout=540)
    finally:
        if harness.poll() is None:  # SIGTERM lets the harness stop what it started
            harness.terminate()
            harness.communicate(timeout=60)
    assert harness.returncode == 0, output[-8000:]
    [result] = tmp_path.glob("smoke-*.json")
    document = json.loads(result.read_text())
    table = document["table"]
    assert {row["workload"] for row in table} == set(range(1, 11))
    # a CPU figure may be missing: a phase of the tiny sizes can end within one tick of
    # the kernel's CPU clock (10 ms), and its CPU then reads 0; every other figure is there
    missing = [row["figure"] for row in table if row["gateway"] is None]
    assert [figure for figure in missing if "CPU" not in figure] == []
    assert document["results"]["w3"]["gateway"]["received"] > 0
    assert (
        document["results"]["w8"]["gateway"]["depth"]
        == document["results"]["w8"]["seeded"]["pending"]
    )
    assert "ingest saturation" in output
    traced = document["results"]["w10"]
    assert set(traced) == {"off-0", "1.0-0", "0.1-0"}
    assert all(run["rate"] > 0 and run["cpu_us"] for run in traced.values())
    grown = document["results"]["w9"]
    [empty] = grown["runs"]["empty"]
    # the same old rows on the empty side as in the history (its own ingest is newer)
    assert empty["expired_seeded"]["expired_events"] == grown["seeded"]["expired_events"] > 0
    for run in grown["runs"]["grown"] + grown["runs"]["empty"]:
        assert run["retention"]["deleted"]["events"] > 0
        # each side's claim, measured beside the other's, on the same backlog
        assert run["claim"]["pending"] == run["pending_seeded"] > 0
        assert run["claim"]["claimed"] > 0
        assert "deliveries_due_idx" in run["claim_plan"]
    assert grown["sizes"]["tables"]["events"]["heap"] > 0
    wal = document["results"]["w1"]["wal_per_stored_event"]
    assert wal["stored_events"] > 0
    assert wal["wal"]["Heap"]["records"] >= wal["stored_events"]  # each one's row at least
    assert wal["bytes"] > 24 * wal["records"] > 0  # a record's header alone is 24 bytes
    assert wal["full_page_images"] >= 0
    w2 = document["results"]["w2"]
    assert w2["disk_flush"]["method"] == document["results"]["postgres"]["wal_sync_method"]
    assert w2["disk_flush"]["ops_per_s"] > 0
    assert w2["disk_flush"]["us_per_flush"] > 0
    assert w2["writer"]["gateway_writer_commit_seconds_count"] > 0
    figures = {row["figure"]: row["gateway"] for row in table}
    assert figures["WAL per stored event: bytes"] == round(wal["bytes"], 3)
    assert figures["the writer's commit: mean / p99 at most"].count(" / ") == 1
    wal = document["results"]["wal_segments"]
    assert wal["made"] == 4  # 64 MB
    assert wal["kept"] > wal["made"]  # recycled for the workloads, with the one in use
