"""Retry delays: exponential growth, full jitter, a cap, and no overflow."""

from __future__ import annotations

import random

import pytest

from gateway.delivery.backoff import backoff_seconds

BASE = 5.0
CAP = 3600.0


def samples(attempt: int, n: int = 2000, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [backoff_seconds(attempt, BASE, CAP, rng) for _ in range(n)]


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0)])
def test_full_jitter_stays_between_zero_and_the_exponential_ceiling(
    attempt: int, ceiling: float
) -> None:
    delays = samples(attempt)
    assert all(0.0 <= d <= ceiling for d in delays)


@pytest.mark.parametrize("attempt", [1, 4, 20])
def test_full_jitter_spreads_over_the_whole_range(attempt: int) -> None:
    ceiling = min(CAP, BASE * 2 ** (attempt - 1))
    delays = samples(attempt)
    assert min(delays) < 0.05 * ceiling
    assert max(delays) > 0.95 * ceiling


def test_the_same_random_draw_doubles_with_each_attempt() -> None:
    first = backoff_seconds(1, BASE, CAP, random.Random(42))
    second = backoff_seconds(2, BASE, CAP, random.Random(42))
    fifth = backoff_seconds(5, BASE, CAP, random.Random(42))
    assert first > 0
    assert second == pytest.approx(2 * first)
    assert fifth == pytest.approx(16 * first)


def test_the_cap_bounds_every_delay_once_growth_passes_it() -> None:
    delays = samples(30)
    assert all(0.0 <= d <= CAP for d in delays)
    assert max(delays) > 0.95 * CAP


def test_a_seeded_generator_makes_the_schedule_reproducible() -> None:
    assert samples(3, n=50, seed=7) == samples(3, n=50, seed=7)
    assert samples(3, n=50, seed=7) != samples(3, n=50, seed=8)


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_numbers_below_one_are_refused(attempt: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_seconds(attempt, BASE, CAP)


@pytest.mark.parametrize("attempt", [63, 64, 1025, 10**6, 10**100])
def test_a_huge_attempt_number_does_not_overflow_and_is_capped(attempt: int) -> None:
    delay = backoff_seconds(attempt, BASE, CAP, random.Random(3))
    assert 0.0 <= delay <= CAP


def test_without_a_generator_the_delay_is_still_within_bounds() -> None:
    assert all(0.0 <= backoff_seconds(3, BASE, CAP) <= 20.0 for _ in range(200))
