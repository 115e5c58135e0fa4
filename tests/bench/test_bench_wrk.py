"""What a wrk run's summary counts as throughput."""

from __future__ import annotations

from typing import Any

import pytest

from bench.wrk import _parse


def summary(statuses: dict[str, int], seconds: float = 2.0) -> dict[str, Any]:
    """The summary line shopify.lua prints, for a run that got these answers."""
    return {
        "duration_us": seconds * 1e6,
        "requests": sum(statuses.values()),
        "statuses": statuses,
        "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "latency_us": {"p50": 1500.0, "p99": 9000.0},
        "cycles": 1,
    }


def test_the_rate_counts_only_the_answers_that_acknowledged_a_webhook() -> None:
    result = _parse(summary({"202": 3000, "200": 1000, "503+retry-after": 16000}))

    assert result.rate == pytest.approx(2000.0)
    assert result.as_dict()["answered_rate"] == pytest.approx(10000.0)


def test_a_run_refused_whole_has_no_rate() -> None:
    result = _parse(summary({"503+retry-after": 500}))

    assert result.rate == 0.0
    assert result.requests == 500
