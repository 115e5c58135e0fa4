"""Claims and settlements on the dispatcher's own pool, where each is planned once.

The claim is one large statement: planned again on every run, it costs PostgreSQL about as
much as running it. Its generic plan serves every batch size, so the dispatcher's queue
pool plans each statement once (``plan_cache_mode = force_generic_plan``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store import claim
from gateway.store.database import Database
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sinks import answer
from tests.integration.delivery.conftest import StartDispatcher, StartSubscriber

CLAIM = "candidates AS MATERIALIZED"
SETTLE = "INSERT INTO delivery_attempts"


@pytest.fixture
async def queue_db(database_url: str) -> AsyncIterator[Database]:
    """One connection, so every statement the pool prepared can be read back from it."""
    database = await Database.connect(database_url, min_size=1, max_size=1, generic_plans=True)
    yield database
    await database.close()


async def plans(db: Database, marker: str) -> tuple[int, int]:
    """(generic, custom) plans made for the statement holding ``marker`` on ``db``'s one
    connection; (0, 0) if it never ran there."""
    row = await db.pool.fetchrow(
        "SELECT coalesce(sum(generic_plans), 0)::int AS generic,"
        " coalesce(sum(custom_plans), 0)::int AS custom"
        " FROM pg_prepared_statements WHERE strpos(statement, $1) > 0",
        marker,
    )
    assert row is not None
    return row["generic"], row["custom"]


async def test_a_dispatcher_claims_and_settles_on_its_queue_pool_with_one_plan_each(
    db: Database,
    queue_db: Database,
    start_dispatcher: StartDispatcher,
    start_subscriber: StartSubscriber,
) -> None:
    server = await start_subscriber(answer(200))
    await subscriber(db, url=server.url)
    await store_events(db, [event(f"o-{i}") for i in range(3)])
    await start_dispatcher(queue_db=queue_db)
    await server.wait_for(3)

    async def settled() -> bool:
        done = await db.pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
        return bool(done == 3)

    await until(settled)
    claim_generic, claim_custom = await plans(queue_db, CLAIM)
    settle_generic, settle_custom = await plans(queue_db, SETTLE)
    assert claim_generic >= 1 and claim_custom == 0
    assert settle_generic >= 1 and settle_custom == 0


async def test_a_pool_without_generic_plans_plans_the_claim_on_every_run(
    db: Database, database_url: str
) -> None:
    """Why the queue pool exists: PostgreSQL's own choice is a fresh plan per claim."""
    await subscriber(db, url="http://127.0.0.1:9/hook")
    await store_events(db, [event("o-1")])
    plain = await Database.connect(database_url, min_size=1, max_size=1)
    try:
        for _ in range(3):
            await claim.claim(plain, 64, 10.0, "lease-token", None)
            await plain.pool.execute(
                "UPDATE deliveries SET status = 'pending', lease_until = NULL, lease_token = NULL"
            )
        generic, custom = await plans(plain, CLAIM)
    finally:
        await plain.close()
    assert (generic, custom) == (0, 3)
