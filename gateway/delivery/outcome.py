"""What follows an attempt: success, another try later, or the dead-letter queue (at
once for a transform that failed); a transform's "do not send" ends it ``cancelled``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gateway.config import DeliveryConfig
from gateway.delivery.policy import RetryPolicy
from gateway.store.records import (
    SKIPPED_BY_TRANSFORM,
    TRANSFORM_ERROR,
    AttemptResult,
    ClaimedDelivery,
    Settlement,
)

__all__ = ["THROTTLING_STATUSES", "decide"]

THROTTLING_STATUSES = frozenset({429, 503})
"""Statuses whose ``Retry-After`` is honoured (for the delivery and its subscriber)."""


def decide(
    claimed: ClaimedDelivery,
    result: AttemptResult,
    token: str,
    defaults: DeliveryConfig,
    now: datetime,
    rng: random.Random | None = None,
) -> Settlement:
    """Turn one attempt into the delivery's next state.

    A ``Retry-After`` on 429 or 503 replaces the backoff (clamped) and pauses the whole
    subscriber until then; a ``410 Gone`` asks for the subscriber to be disabled. The
    delivery is dead after its policy's maximum attempts, or when the next try would
    fall beyond its maximum age (counted from when it was queued).
    """
    if result.ok:
        return Settlement(claimed.id, token, claimed.total_attempts, result, "succeeded", None)
    if result.outcome == SKIPPED_BY_TRANSFORM:
        return Settlement(claimed.id, token, claimed.total_attempts, result, "cancelled", None)
    if result.outcome == TRANSFORM_ERROR:  # the same input fails the same way: not retried
        return Settlement(claimed.id, token, claimed.total_attempts, result, "dead", None)
    policy = RetryPolicy.of(claimed, defaults)
    throttle_until = None
    delay = policy.delay(claimed.attempts, rng)
    if result.retry_after_seconds is not None and result.status_code in THROTTLING_STATUSES:
        delay = policy.retry_after(result.retry_after_seconds)
        throttle_until = now + timedelta(seconds=delay)
    next_at: datetime | None = now + timedelta(seconds=delay)
    dead = claimed.attempts >= policy.max_attempts or _too_old(claimed, policy, now, delay)
    return Settlement(
        claimed.id,
        token,
        claimed.total_attempts,
        result,
        "dead" if dead else "pending",
        None if dead else next_at,
        throttle_until=throttle_until,
        gone=result.status_code == 410,
    )


def _too_old(claimed: ClaimedDelivery, policy: RetryPolicy, now: datetime, delay: float) -> bool:
    if policy.max_age_seconds is None:
        return False
    start = claimed.enqueued_at or claimed.received_at
    return (now - start).total_seconds() + delay > policy.max_age_seconds
