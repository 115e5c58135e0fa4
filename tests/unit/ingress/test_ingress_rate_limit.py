"""Token buckets per key, with Retry-After waits and bounded memory."""

from __future__ import annotations

import pytest

from gateway.ingress.ratelimit import TokenBuckets


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    buckets = TokenBuckets(rate_per_second=2, burst=3, max_keys=10)
    assert [buckets.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 100.0) == pytest.approx(0.5)


def test_tokens_come_back_at_the_configured_rate() -> None:
    buckets = TokenBuckets(rate_per_second=2, burst=1, max_keys=10)
    assert buckets.take("a", 100.0) == 0.0
    assert buckets.take("a", 100.25) == pytest.approx(0.25)
    assert buckets.take("a", 100.5) == 0.0


def test_waiting_the_returned_time_is_enough() -> None:
    buckets = TokenBuckets(rate_per_second=0.1, burst=1, max_keys=10)
    buckets.take("a", 0.0)
    wait = buckets.take("a", 1.0)
    assert wait == pytest.approx(9.0)
    assert buckets.take("a", 1.0 + wait) == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    buckets = TokenBuckets(rate_per_second=10, burst=2, max_keys=10)
    buckets.take("a", 0.0)
    results = [buckets.take("a", 3600.0) for _ in range(3)]
    assert results[:2] == [0.0, 0.0]
    assert results[2] > 0


def test_keys_have_separate_buckets() -> None:
    buckets = TokenBuckets(rate_per_second=1, burst=1, max_keys=10)
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0.0


def test_memory_is_bounded_by_evicting_the_least_recently_used_key() -> None:
    buckets = TokenBuckets(rate_per_second=1, burst=1, max_keys=3)
    for key in ("a", "b", "c"):
        buckets.take(key, 0.0)
    buckets.take("a", 0.0)  # "a" is now the most recently used
    buckets.take("d", 0.0)  # evicts "b"
    assert len(buckets) == 3
    assert buckets.take("a", 0.0) > 0  # still remembered: empty
    assert buckets.take("b", 0.0) == 0.0  # forgotten: starts full again
    for i in range(1000):
        buckets.take(f"k{i}", 0.0)
    assert len(buckets) == 3


def test_a_clock_going_backwards_grants_nothing() -> None:
    buckets = TokenBuckets(rate_per_second=1, burst=1, max_keys=10)
    buckets.take("a", 100.0)
    assert buckets.take("a", 50.0) > 0
    assert buckets.take("a", 100.5) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"), [(0, 1, 1), (-1, 1, 1), (1, 0.5, 1), (1, 1, 0)]
)
def test_nonsense_settings_are_refused(rate: float, burst: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBuckets(rate, burst, max_keys)
