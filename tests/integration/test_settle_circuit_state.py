"""Settling reads each circuit as the database holds it, whatever its state.

An attempt in flight when its subscriber's circuit opened (or a probe's result) is settled
against the stored state: a late success leaves an open circuit open, and a failed probe
opens a half-open circuit again even when no trip rule would fire on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.delivery.circuit import CircuitBreaker
from gateway.store import deliveries as store
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import AttemptResult, Settlement
from gateway.store.settle import settle
from testkit.factories import event, subscriber

BREAKER = CircuitBreaker()  # 10 failures in a row, or 70 % of at least 20 in the window


async def _claimed_with_circuit(db: Database, state: str) -> str:
    await subscriber(db)
    await insert_batch(db, [event("e-0")])
    [claimed] = await store.claim(db, 1, 30, "tok")
    await db.pool.execute(
        "UPDATE subscriber_flow SET circuit_state = $1, opened_at = now(),"
        " open_until = now() + interval '1 minute',"
        " probe_until = CASE WHEN $1 = 'half_open' THEN now() + interval '30 seconds' END",
        state,
    )
    return claimed.id


def _settled(delivery_id: str, outcome: str, status: str) -> Settlement:
    result = AttemptResult(datetime.now(UTC), 5.0, outcome, 200 if outcome == "success" else 500)
    return Settlement(delivery_id, "tok", 1, result, status, None)  # type: ignore[arg-type]


async def _circuit(db: Database) -> str:
    return str(await db.pool.fetchval("SELECT circuit_state FROM subscriber_flow"))


async def test_a_late_success_leaves_an_open_circuit_open(db: Database) -> None:
    delivery_id = await _claimed_with_circuit(db, "open")
    report = await settle(db, [_settled(delivery_id, "success", "succeeded")], BREAKER.evolve)
    assert report.finished == {delivery_id}
    assert await _circuit(db) == "open"


async def test_a_failed_probe_opens_a_half_open_circuit_again(db: Database) -> None:
    delivery_id = await _claimed_with_circuit(db, "half_open")
    await settle(db, [_settled(delivery_id, "http_error", "pending")], BREAKER.evolve)
    assert await _circuit(db) == "open"


async def test_a_successful_probe_closes_a_half_open_circuit(db: Database) -> None:
    delivery_id = await _claimed_with_circuit(db, "half_open")
    await settle(db, [_settled(delivery_id, "success", "succeeded")], BREAKER.evolve)
    row = await db.pool.fetchrow("SELECT * FROM subscriber_flow")
    assert row is not None
    assert (row["circuit_state"], row["open_until"], row["probe_until"]) == ("closed", None, None)
