"""From when the constant-rate generator counts a request's latency."""

from __future__ import annotations

import pytest

from bench.loadgen import latency_ms


def test_a_request_sent_late_counts_from_its_due_time() -> None:
    # due at 10 s, the generator sent it 30 ms late, answered 2 ms after sending
    assert latency_ms(due=10.0, sent=10.030, answered=10.032) == pytest.approx(32.0)


def test_a_request_sent_early_counts_from_its_sending_and_is_never_negative() -> None:
    # sent 0.4 ms before its due time and answered 0.3 ms later, still before it was due
    assert latency_ms(due=10.0, sent=9.9996, answered=9.9999) == pytest.approx(0.3)
