"""Retry schedule: exponential backoff with full jitter."""

from __future__ import annotations

import random

__all__ = ["backoff_seconds"]


def backoff_seconds(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before the retry that follows failed attempt number ``attempt`` (1-based).

    Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``, which spreads a
    burst of failures evenly instead of retrying them in lockstep.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return (rng or random).uniform(0.0, ceiling)
