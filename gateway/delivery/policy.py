"""A delivery's retry policy: its subscriber's settings over the configured defaults."""

from __future__ import annotations

import dataclasses
import random

from gateway.config import DeliveryConfig
from gateway.delivery.backoff import backoff_seconds
from gateway.store.records import ClaimedDelivery

__all__ = ["RetryPolicy"]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again, and when to give up.

    With a ``schedule`` the n-th retry waits ``schedule[n-1]`` seconds (the last delay
    repeats), and ``max_attempts`` defaults to one more than the schedule is long;
    without one, exponential backoff with full jitter between 0 and
    ``min(cap, base * 2**(n-1))``.
    """

    max_attempts: int
    base_seconds: float
    cap_seconds: float
    schedule: tuple[float, ...]
    max_age_seconds: float | None
    retry_after_max_seconds: float

    @classmethod
    def of(cls, claimed: ClaimedDelivery, defaults: DeliveryConfig) -> RetryPolicy:
        schedule = tuple(
            defaults.retry_schedule if claimed.retry_schedule is None else claimed.retry_schedule
        )
        if claimed.max_attempts is not None:
            max_attempts = claimed.max_attempts
        elif schedule:
            max_attempts = len(schedule) + 1
        else:
            max_attempts = defaults.max_attempts
        return cls(
            max_attempts=max_attempts,
            base_seconds=claimed.backoff_base_seconds or defaults.backoff_base_seconds,
            cap_seconds=claimed.backoff_cap_seconds or defaults.backoff_cap_seconds,
            schedule=schedule,
            max_age_seconds=claimed.max_age_seconds or defaults.max_age_seconds,
            retry_after_max_seconds=defaults.retry_after_max_seconds,
        )

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if self.schedule:
            return self.schedule[min(attempt, len(self.schedule)) - 1]
        return backoff_seconds(attempt, self.base_seconds, self.cap_seconds, rng)

    def retry_after(self, seconds: float) -> float:
        """A subscriber's ``Retry-After``, clamped to ``[0, retry_after_max_seconds]``."""
        return min(max(seconds, 0.0), self.retry_after_max_seconds)
