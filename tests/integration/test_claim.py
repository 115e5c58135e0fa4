"""The claim: SKIP LOCKED keeps dispatchers apart; leases bring back a crashed one's work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.store import deliveries as store
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.records import AttemptResult, Settlement
from testkit.factories import event, subscriber


async def _backlog(db: Database, count: int) -> None:
    await subscriber(db)
    await insert_batch(db, [event(f"e-{i}") for i in range(count)])


def _result(ok: bool = True) -> AttemptResult:
    return AttemptResult(
        datetime.now(UTC), 1.0, "success" if ok else "http_error", 200 if ok else 500
    )


async def test_two_concurrent_dispatchers_never_claim_the_same_delivery(database_url: str) -> None:
    a = await Database.connect(database_url, min_size=1, max_size=4)
    b = await Database.connect(database_url, min_size=1, max_size=4)
    try:
        await _backlog(a, 300)
        claimed: dict[str, list[str]] = {"a": [], "b": []}

        async def drain(name: str, db: Database) -> None:
            for _ in range(100):
                batch = await store.claim(db, 7, 30, f"token-{name}")
                if not batch:
                    return
                claimed[name] += [c.id for c in batch]

        await asyncio.gather(drain("a", a), drain("b", b))
    finally:
        await a.close()
        await b.close()
    assert not set(claimed["a"]) & set(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == 300
    assert claimed["a"] and claimed["b"]


async def test_a_claim_carries_everything_needed_to_send_and_charges_one_attempt(
    db: Database,
) -> None:
    await _backlog(db, 1)
    [claimed] = await store.claim(db, 10, 30, "tok")
    assert claimed.body == b'{"order":"e-0"}'
    assert claimed.url == "http://127.0.0.1:9/hook"
    assert claimed.secret.startswith("whsec_")
    assert (claimed.attempts, claimed.total_attempts) == (1, 1)
    assert await store.claim(db, 10, 30, "other") == []


async def test_an_expired_lease_returns_the_delivery_to_pending_for_another_dispatcher(
    db: Database,
) -> None:
    await _backlog(db, 1)
    [crashed] = await store.claim(db, 10, 0.05, "crashed-worker")
    await asyncio.sleep(0.1)
    assert await store.release_expired_leases(db) == 1
    [again] = await store.claim(db, 10, 30, "healthy-worker")
    assert again.id == crashed.id
    assert again.total_attempts == 2


async def test_a_stale_lease_holder_cannot_settle_a_reclaimed_delivery(db: Database) -> None:
    await _backlog(db, 1)
    [first] = await store.claim(db, 10, 0.05, "slow")
    await asyncio.sleep(0.1)
    await store.release_expired_leases(db)
    [second] = await store.claim(db, 10, 30, "fast")

    late = Settlement(first.id, "slow", 1, _result(), "succeeded", None)
    assert await store.settle(db, [late]) == set()
    assert (await store.get_delivery(db, first.id)).status == "in_flight"

    on_time = Settlement(second.id, "fast", 2, _result(), "succeeded", None)
    assert await store.settle(db, [on_time]) == {second.id}
    delivery = await store.get_delivery(db, second.id)
    assert delivery.status == "succeeded"
    assert [a.attempt for a in await store.list_attempts(db, second.id)] == [1, 2]


async def test_released_claims_are_not_charged_an_attempt(db: Database) -> None:
    await _backlog(db, 2)
    batch = await store.claim(db, 10, 30, "stopping")
    assert await store.release(db, [c.id for c in batch], "stopping") == 2
    again = await store.claim(db, 10, 30, "next")
    assert sorted(c.attempts for c in again) == [1, 1]


async def test_deliveries_of_a_paused_subscriber_are_not_claimed(db: Database) -> None:
    await _backlog(db, 3)
    await db.pool.execute("UPDATE subscribers SET state = 'paused'")
    assert await store.claim(db, 10, 30, "tok") == []


async def test_a_retried_dead_delivery_gets_a_fresh_set_of_attempts(db: Database) -> None:
    await _backlog(db, 1)
    [claimed] = await store.claim(db, 1, 30, "tok")
    await store.settle(db, [Settlement(claimed.id, "tok", 1, _result(False), "dead", None)])
    await store.retry(db, claimed.id)
    [again] = await store.claim(db, 1, 30, "tok2")
    assert (again.attempts, again.total_attempts) == (1, 2)
