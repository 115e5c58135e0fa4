"""What follows an attempt: success, another try later, or the dead-letter queue."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gateway.config import DeliveryConfig
from gateway.delivery.backoff import backoff_seconds
from gateway.store.records import AttemptResult, ClaimedDelivery, Settlement

__all__ = ["decide"]


def decide(
    claimed: ClaimedDelivery,
    result: AttemptResult,
    token: str,
    defaults: DeliveryConfig,
    now: datetime,
    rng: random.Random | None = None,
) -> Settlement:
    """Turn one attempt into the delivery's next state."""
    if result.ok:
        return Settlement(claimed.id, token, claimed.total_attempts, result, "succeeded", None)
    max_attempts = claimed.max_attempts or defaults.max_attempts
    if claimed.attempts >= max_attempts:
        return Settlement(claimed.id, token, claimed.total_attempts, result, "dead", None)
    base = claimed.backoff_base_seconds or defaults.backoff_base_seconds
    cap = claimed.backoff_cap_seconds or defaults.backoff_cap_seconds
    delay = backoff_seconds(claimed.attempts, base, cap, rng)
    if result.retry_after_seconds is not None:
        delay = max(delay, min(result.retry_after_seconds, cap))
    next_at = now + timedelta(seconds=delay)
    return Settlement(claimed.id, token, claimed.total_attempts, result, "pending", next_at)
