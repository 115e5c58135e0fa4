"""What follows a failed attempt: backoff or schedule, Retry-After, 410, maximum age."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from gateway.config import DeliveryConfig
from gateway.delivery.outcome import decide
from gateway.store.records import AttemptResult, ClaimedDelivery
from testkit.factories import claimed_delivery

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DEFAULTS = DeliveryConfig(backoff_base_seconds=5, backoff_cap_seconds=600, max_attempts=6)


def claimed(attempts: int = 1, **changes: Any) -> ClaimedDelivery:
    base = claimed_delivery(
        NOW,
        attempts=attempts,
        total_attempts=attempts,
        event_type=None,
        content_type=None,
        body=b"",
        secret="whsec_AAAA",
        enqueued_at=NOW - timedelta(minutes=1),
    )
    return dataclasses.replace(base, **changes)


def failed(status: int | None = 500, retry_after: float | None = None) -> AttemptResult:
    outcome = "http_error" if status else "timeout"
    return AttemptResult(NOW, 10.0, outcome, status, "x", None, retry_after)


def delay(s: Any) -> float:
    assert s.next_attempt_at is not None
    return float((s.next_attempt_at - NOW).total_seconds())


def test_exponential_backoff_with_full_jitter_stays_under_its_ceiling() -> None:
    rng = random.Random(3)
    delays = [delay(decide(claimed(3), failed(), "t", DEFAULTS, NOW, rng)) for _ in range(500)]
    assert 0 <= min(delays) < 1 and 19 < max(delays) <= 20


def test_an_explicit_schedule_is_followed_and_its_last_delay_repeats() -> None:
    c = claimed(retry_schedule=[5, 300, 1800], max_attempts=10)
    assert [
        delay(decide(dataclasses.replace(c, attempts=n), failed(), "t", DEFAULTS, NOW))
        for n in (1, 2, 3, 4)
    ] == [5, 300, 1800, 1800]


def test_a_schedule_allows_one_attempt_more_than_its_delays() -> None:
    c = claimed(retry_schedule=[1, 2])
    assert (
        decide(dataclasses.replace(c, attempts=2), failed(), "t", DEFAULTS, NOW).status == "pending"
    )
    assert decide(dataclasses.replace(c, attempts=3), failed(), "t", DEFAULTS, NOW).status == "dead"


def test_the_configured_schedule_applies_to_subscribers_without_their_own() -> None:
    defaults = msgspec.structs.replace(DEFAULTS, retry_schedule=(7.0,))
    assert delay(decide(claimed(1), failed(), "t", defaults, NOW)) == 7.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_throttling_answers_replaces_the_backoff_and_pauses_the_subscriber(
    status: int,
) -> None:
    s = decide(claimed(1), failed(status, 120), "t", DEFAULTS, NOW)
    assert delay(s) == 120
    assert s.throttle_until == NOW + timedelta(seconds=120)


def test_retry_after_is_clamped() -> None:
    s = decide(claimed(1), failed(429, 10 * 86400), "t", DEFAULTS, NOW)
    assert delay(s) == DEFAULTS.retry_after_max_seconds


def test_retry_after_on_other_answers_is_ignored() -> None:
    s = decide(
        claimed(1, backoff_base_seconds=1, backoff_cap_seconds=1),
        failed(500, 120),
        "t",
        DEFAULTS,
        NOW,
    )
    assert delay(s) <= 1 and s.throttle_until is None


def test_a_410_asks_for_the_subscriber_to_be_disabled() -> None:
    assert decide(claimed(1), failed(410), "t", DEFAULTS, NOW).gone
    assert not decide(claimed(1), failed(404), "t", DEFAULTS, NOW).gone


def test_a_delivery_whose_next_try_falls_past_its_maximum_age_is_dead() -> None:
    old = claimed(1, enqueued_at=NOW - timedelta(hours=2), max_age_seconds=3600)
    assert decide(old, failed(), "t", DEFAULTS, NOW).status == "dead"
    young = claimed(1, max_age_seconds=3600, backoff_cap_seconds=5)
    assert decide(young, failed(), "t", DEFAULTS, NOW).status == "pending"


def test_the_last_allowed_attempt_failing_is_dead() -> None:
    assert decide(claimed(6), failed(), "t", DEFAULTS, NOW).status == "dead"
    assert decide(claimed(5), failed(), "t", DEFAULTS, NOW).status == "pending"


def test_a_success_is_final() -> None:
    ok = AttemptResult(NOW, 3.0, "success", 200)
    s = decide(claimed(1), ok, "t", DEFAULTS, NOW)
    assert (s.status, s.next_attempt_at) == ("succeeded", None)
