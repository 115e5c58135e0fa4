"""The notes under the bench's table say when a figure measures the machine."""

from __future__ import annotations

from typing import Any

from bench.run import burst_missed_by_baseline


def burst(gateway: dict[str, int], baseline_a: dict[str, int]) -> dict[str, Any]:
    """Results of a run whose workload 5 got these answers (by kind) on each side."""
    return {"w5": {"gateway": {"statuses": gateway}, "baseline_a": {"statuses": baseline_a}}}


def test_a_burst_that_baseline_a_missed_too_is_noted_with_its_count() -> None:
    results = burst({"202": 10, "not-sent": 7}, {"202": 90, "not-sent": 5, "timeout": 2, "500": 1})

    assert burst_missed_by_baseline(results) == 8


def test_a_burst_the_gateway_answered_whole_is_not_noted() -> None:
    results = burst({"202": 10, "503+retry-after": 90}, {"202": 99, "timeout": 1})

    assert burst_missed_by_baseline(results) == 0


def test_a_burst_that_baseline_a_answered_whole_is_not_noted() -> None:
    results = burst({"202": 10, "timeout": 3}, {"202": 120, "503+retry-after": 3})

    assert burst_missed_by_baseline(results) == 0


def test_a_run_without_workload_5_is_not_noted() -> None:
    assert burst_missed_by_baseline({"w1": {}}) == 0
