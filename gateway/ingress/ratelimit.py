"""Token buckets keyed by string (per source, per client address), bounded in memory."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate_per_second``.

    At most ``max_keys`` buckets are kept; beyond that the least recently used one is
    forgotten (it starts full again when its key returns). Not thread-safe; meant for
    one event loop.
    """

    __slots__ = ("_buckets", "burst", "max_keys", "rate")

    def __init__(self, rate_per_second: float, burst: float, max_keys: int = 10_000) -> None:
        """Raise ``ValueError`` unless rate > 0, burst >= 1 and max_keys >= 1."""
        if rate_per_second <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("need rate_per_second > 0, burst >= 1 and max_keys >= 1")
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """Take one token for ``key`` at monotonic time ``now``.

        Returns 0.0 when allowed, else the seconds until a token is available (for
        ``Retry-After``, round up). A refused request takes nothing.
        """
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, max(now, last))
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        """The number of buckets held."""
        return len(self._buckets)
