"""The circuit breaker's state machine, one settled batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.delivery.circuit import GONE_REASON, CircuitBreaker
from gateway.store.records import AttemptResult, Circuit, Settlement

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BREAKER = CircuitBreaker(
    consecutive_failures=3,
    failure_ratio=0.5,
    min_requests=10,
    window=timedelta(minutes=5),
    cooldown=timedelta(seconds=30),
    disable_after=timedelta(days=5),
)


def attempt(ok: bool, at: datetime = T0, status: int | None = None, **kw: object) -> Settlement:
    result = AttemptResult(
        at, 5.0, "success" if ok else "http_error", status or (200 if ok else 500)
    )
    return Settlement("dlv", "tok", 1, result, "succeeded" if ok else "pending", None, **kw)  # type: ignore[arg-type]


def test_consecutive_failures_open_the_circuit_for_the_cool_down() -> None:
    c = BREAKER.evolve(Circuit(), [attempt(False)] * 2, T0).circuit
    assert c.state == "closed" and c.consecutive_failures == 2
    c = BREAKER.evolve(c, [attempt(False)], T0).circuit
    assert (c.state, c.open_until) == ("open", T0 + timedelta(seconds=30))


def test_a_success_in_between_resets_the_count() -> None:
    c = BREAKER.evolve(
        Circuit(), [attempt(False), attempt(False), attempt(True), attempt(False)], T0
    )
    assert (c.circuit.state, c.circuit.consecutive_failures) == ("closed", 1)


def test_a_failure_ratio_over_the_window_opens_it_once_enough_requests_were_seen() -> None:
    mixed = [attempt(i % 2 == 0) for i in range(8)]
    c = BREAKER.evolve(Circuit(), mixed, T0).circuit
    assert c.state == "closed"  # 4 of 8 failed, but fewer than 10 requests
    c = BREAKER.evolve(c, [attempt(True), attempt(False)], T0).circuit
    assert c.state == "open"


def test_the_window_starts_over_when_it_has_passed() -> None:
    c = BREAKER.evolve(Circuit(), [attempt(False), attempt(True)] * 4, T0).circuit
    later = T0 + timedelta(minutes=6)
    c = BREAKER.evolve(c, [attempt(False, later), attempt(True, later)], later).circuit
    assert (c.window_attempts, c.window_failures, c.state) == (2, 1, "closed")


def test_a_probe_that_succeeds_closes_the_circuit_and_one_that_fails_reopens_it() -> None:
    half = Circuit(state="half_open", open_until=T0, consecutive_failures=5)
    closed = BREAKER.evolve(half, [attempt(True)], T0).circuit
    assert (closed.state, closed.consecutive_failures, closed.open_until) == ("closed", 0, None)
    reopened = BREAKER.evolve(half, [attempt(False)], T0 + timedelta(seconds=1)).circuit
    assert reopened.state == "open"
    assert reopened.open_until == T0 + timedelta(seconds=31)


def test_results_arriving_while_open_do_not_close_it() -> None:
    c = Circuit(state="open", open_until=T0 + timedelta(seconds=30))
    assert BREAKER.evolve(c, [attempt(True)], T0).circuit.state == "open"


def test_failing_continuously_past_the_limit_disables_with_a_reason() -> None:
    since = T0 - timedelta(days=5, seconds=1)
    change = BREAKER.evolve(Circuit(failing_since=since), [attempt(False)], T0)
    assert change.disable_reason is not None
    assert change.disable_reason.startswith("failing continuously since 2026-11-23")


def test_one_success_keeps_the_subscriber() -> None:
    since = T0 - timedelta(days=6)
    change = BREAKER.evolve(Circuit(failing_since=since), [attempt(True)], T0)
    assert change.disable_reason is None and change.circuit.failing_since is None


def test_410_gone_disables_at_once() -> None:
    change = BREAKER.evolve(Circuit(), [attempt(False, status=410, gone=True)], T0)
    assert change.disable_reason == GONE_REASON


def test_retry_after_pauses_the_subscriber_until_the_latest_time_asked() -> None:
    until = T0 + timedelta(seconds=90)
    change = BREAKER.evolve(
        Circuit(), [attempt(False, throttle_until=until), attempt(False, throttle_until=T0)], T0
    )
    assert change.circuit.throttled_until == until


def test_a_disabled_breaker_never_opens() -> None:
    off = CircuitBreaker(enabled=False, consecutive_failures=1)
    assert off.evolve(Circuit(), [attempt(False)] * 50, T0).circuit.state == "closed"
