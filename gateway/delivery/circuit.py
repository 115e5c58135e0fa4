"""The circuit breaker and failure record of a subscriber, as a pure function.

Closed: every attempt goes. It opens after ``consecutive_failures`` failures in a row,
or when at least ``min_requests`` attempts in the current window failed at
``failure_ratio`` or more. Open: nothing is sent (the claim leaves the subscriber's
deliveries pending, not charged) until ``cooldown`` has passed. Then one delivery is
sent as a probe (half-open): success closes the circuit, failure opens it again.

A subscriber failing without a single success for ``disable_after`` (counted from the
first failure after the last success) is disabled, and so is one that answers 410 Gone.
The store locks the subscriber's flow row, calls :meth:`CircuitBreaker.evolve` with the
attempts of one settled batch, and writes back what it returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.config import DeliveryConfig
from gateway.store.records import Circuit, FlowChange, Settlement

__all__ = ["GONE_REASON", "CircuitBreaker"]

GONE_REASON = "the endpoint answered 410 Gone"


@dataclasses.dataclass(frozen=True, slots=True)
class CircuitBreaker:
    enabled: bool = True
    consecutive_failures: int = 10
    failure_ratio: float = 0.7
    min_requests: int = 20
    window: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(minutes=1)
    disable_after: timedelta | None = timedelta(days=5)

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> CircuitBreaker:
        return cls(
            enabled=config.circuit_breaker,
            consecutive_failures=config.circuit_consecutive_failures,
            failure_ratio=config.circuit_failure_ratio,
            min_requests=config.circuit_min_requests,
            window=timedelta(seconds=config.circuit_window_seconds),
            cooldown=timedelta(seconds=config.circuit_cooldown_seconds),
            disable_after=timedelta(seconds=config.disable_after_seconds)
            if config.disable_after_seconds
            else None,
        )

    def evolve(self, c: Circuit, attempts: Sequence[Settlement], now: datetime) -> FlowChange:
        """The circuit after ``attempts`` (one subscriber's, oldest first) settled at ``now``;
        attempts that sent nothing (their transform failed or skipped) do not count."""
        attempts = [s for s in attempts if s.result.sent]
        oks = [s.result.ok for s in attempts]
        failures = oks.count(False)
        c = self._record(c, attempts, oks, now)
        if c.state == "half_open" and attempts:
            c = self._close(c, now) if oks[-1] else self._open(c, now)
        elif c.state == "closed" and failures and self._trips(c):
            c = self._open(c, now)
        return FlowChange(c, self._disable_reason(c, attempts, now))

    def _record(
        self, c: Circuit, attempts: Sequence[Settlement], oks: list[bool], now: datetime
    ) -> Circuit:
        failures = oks.count(False)
        if True in oks:
            last_ok = len(oks) - 1 - oks[::-1].index(True)
            trailing = attempts[last_ok + 1 :]
            consecutive = len(trailing)
            failing_since = trailing[0].result.started_at if trailing else None
        else:
            consecutive = c.consecutive_failures + failures
            first = attempts[0].result.started_at if attempts else None
            failing_since = c.failing_since or first
        window_start, window_attempts, window_failures = (
            c.window_started_at,
            c.window_attempts,
            c.window_failures,
        )
        if window_start is None or now - window_start >= self.window:
            window_start, window_attempts, window_failures = now, 0, 0
        throttled = [s.throttle_until for s in attempts if s.throttle_until is not None]
        throttled_until = max([t for t in [c.throttled_until, *throttled] if t], default=None)
        if throttled_until is not None and throttled_until <= now:
            throttled_until = None
        return dataclasses.replace(
            c,
            consecutive_failures=consecutive,
            failing_since=failing_since,
            window_started_at=window_start,
            window_attempts=window_attempts + len(oks),
            window_failures=window_failures + failures,
            throttled_until=throttled_until,
        )

    def _trips(self, c: Circuit) -> bool:
        if not self.enabled:
            return False
        if self.consecutive_failures and c.consecutive_failures >= self.consecutive_failures:
            return True
        return (
            c.window_attempts >= self.min_requests
            and c.window_failures >= self.failure_ratio * c.window_attempts
        )

    def _open(self, c: Circuit, now: datetime) -> Circuit:
        return dataclasses.replace(
            c, state="open", opened_at=now, open_until=now + self.cooldown, probe_until=None
        )

    def _close(self, c: Circuit, now: datetime) -> Circuit:
        return dataclasses.replace(
            c,
            state="closed",
            opened_at=None,
            open_until=None,
            probe_until=None,
            consecutive_failures=0,
            window_started_at=now,
            window_attempts=0,
            window_failures=0,
        )

    def _disable_reason(
        self, c: Circuit, attempts: Sequence[Settlement], now: datetime
    ) -> str | None:
        if any(s.gone for s in attempts):
            return GONE_REASON
        since = c.failing_since
        if (
            self.disable_after is not None
            and since is not None
            and now - since >= self.disable_after
        ):
            return f"failing continuously since {since:%Y-%m-%d %H:%M:%S} UTC"
        return None
