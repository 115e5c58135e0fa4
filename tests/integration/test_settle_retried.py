"""Settling is idempotent: a batch written again after its COMMIT's answer was lost (the
database went away just then) records each attempt once.

Found by the fault suite (chaos/): with PostgreSQL cut off or killed under load, the
settler retried batches that had committed, and attempts appeared twice in the log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.store import deliveries as store
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import AttemptResult, Settlement
from testkit.factories import event, subscriber


async def test_a_settlement_written_twice_records_its_attempt_once(db: Database) -> None:
    await subscriber(db)
    await insert_batch(db, [event("e-0")])
    [claimed] = await store.claim(db, 1, 30, "tok")
    result = AttemptResult(datetime.now(UTC), 12.5, "success", 200)
    settlement = Settlement(claimed.id, "tok", 1, result, "succeeded", None)
    assert await store.settle(db, [settlement]) == {claimed.id}
    assert await store.settle(db, [settlement]) == set()  # the retry finds it settled
    attempts = await store.list_attempts(db, claimed.id)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 200)]
    assert (await store.get_delivery(db, claimed.id)).status == "succeeded"
