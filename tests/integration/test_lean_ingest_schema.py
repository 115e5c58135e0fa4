"""The schema behind the ingest's insert (migration 0017): what it must keep doing."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from gateway.store import subscribers as subscribers_store
from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event, subscriber
from testkit.polling import until

DELIVERY_ID = re.compile(r"dlv_[0-9a-f]{12}[0-9a-f]{16}")


async def test_delivery_ids_are_a_millisecond_and_sixteen_random_hex_digits_never_repeated(
    db: Database,
) -> None:
    async with db.transaction() as conn:
        ids = [
            r[0]
            for r in await conn.fetch("SELECT gateway_id('dlv') FROM generate_series(1, 50000)")
        ]
        now_ms = await conn.fetchval(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
        )

    assert all(DELIVERY_ID.fullmatch(i) for i in ids), [
        i for i in ids if not DELIVERY_ID.fullmatch(i)
    ][:3]
    assert len(set(ids)) == len(ids)
    assert 0 <= now_ms - int(ids[-1][4:16], 16) < 60_000
    assert ids == sorted(ids, key=lambda i: i[4:16])  # time-sortable by their first digits
    tails = {i[16:] for i in ids}
    assert all(any(t[n] != "0" for t in tails) for n in range(16))  # every digit random


async def test_the_fan_out_names_each_delivery_so(db: Database) -> None:
    await subscriber(db, "a")
    await subscriber(db, "b")
    await insert_batch(db, [event("named")])
    async with db.transaction() as conn:
        ids = [r[0] for r in await conn.fetch("SELECT id FROM deliveries")]
    assert len(ids) == 2 and all(DELIVERY_ID.fullmatch(i) for i in ids)


ORPHANS = """
SELECT count(*) FROM deliveries d
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)
   OR NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = d.subscriber_id)
"""


async def _deliveries(db: Database) -> list[tuple[str, str]]:
    async with db.transaction() as conn:
        rows = await conn.fetch("SELECT event_id, subscriber_id FROM deliveries ORDER BY 1, 2")
        assert await conn.fetchval(ORPHANS) == 0
    return [(r[0], r[1]) for r in rows]


async def test_deleting_events_takes_their_deliveries_and_leaves_the_others(
    db: Database,
) -> None:
    a = await subscriber(db, "a")
    b = await subscriber(db, "b")
    results, _ = await insert_batch(db, [event("gone-1"), event("gone-2"), event("kept")])
    gone, kept = [r.event_id for r in results[:2]], results[2].event_id

    async with db.transaction() as conn:
        await conn.execute("DELETE FROM events WHERE id = ANY ($1::text[])", gone)

    assert await _deliveries(db) == sorted([(kept, a.id), (kept, b.id)])


async def test_deleting_a_subscriber_takes_its_deliveries_and_leaves_the_others(
    db: Database,
) -> None:
    a = await subscriber(db, "a")
    b = await subscriber(db, "b")
    results, _ = await insert_batch(db, [event("one"), event("two")])

    await subscribers_store.delete_subscriber(db, a.id)

    assert await _deliveries(db) == sorted((r.event_id, b.id) for r in results)


async def test_a_subscriber_deleted_while_a_batch_fans_out_gets_no_delivery_and_fails_nothing(
    db: Database,
) -> None:
    a = await subscriber(db, "a")
    b = await subscriber(db, "b")
    deleter = await asyncpg.connect(db.url)
    try:
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM subscribers WHERE id = $1", a.id)
        batch = asyncio.create_task(insert_batch(db, [event("meanwhile")]))
        await until(lambda: _waits_for_a_lock(db), timeout=10)  # on the subscriber's row
        assert not batch.done()
        await deleting.commit()
        [stored], created = await asyncio.wait_for(batch, 10)
    finally:
        await deleter.close()

    assert created == 1
    assert await _deliveries(db) == [(stored.event_id, b.id)]


async def test_a_subscriber_deleted_after_a_batch_fanned_out_takes_those_deliveries_too(
    db: Database,
) -> None:
    a = await subscriber(db, "a")
    b = await subscriber(db, "b")
    holder = await asyncpg.connect(db.url)
    try:
        holding = holder.transaction()
        await holding.start()  # a fan-out that has locked its subscribers, not yet committed
        await holder.execute("SELECT 1 FROM subscribers WHERE id = $1 FOR KEY SHARE", a.id)
        await holder.execute(
            "INSERT INTO events (id, source, external_id, body) VALUES ('evt_x', 'shop', 'x', '')"
        )
        await holder.execute(
            "INSERT INTO deliveries (id, event_id, subscriber_id) VALUES"
            " ('dlv_x', 'evt_x', $1), ('dlv_y', 'evt_x', $2)",
            a.id,
            b.id,
        )
        deletion = asyncio.create_task(subscribers_store.delete_subscriber(db, a.id))
        await until(lambda: _waits_for_a_lock(db), timeout=10)
        assert not deletion.done()
        await holding.commit()
        await asyncio.wait_for(deletion, 10)
    finally:
        await holder.close()

    assert await _deliveries(db) == [("evt_x", b.id)]


async def test_a_replay_of_an_event_deleted_meanwhile_inserts_nothing_and_fails_nothing(
    db: Database,
) -> None:
    await subscriber(db, "a")
    [stored], _ = await insert_batch(db, [event("replayed")])
    b = await subscriber(db, "b")  # has no delivery of it: a replay would make one
    deleter = await asyncpg.connect(db.url)
    try:
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM events WHERE id = $1", stored.event_id)
        replay = asyncio.create_task(db.fetch("insert_replays", [stored.event_id], [b.id], [10**9]))
        await until(lambda: _waits_for_a_lock(db), timeout=10)
        await deleting.commit()
        inserted = await asyncio.wait_for(replay, 10)
    finally:
        await deleter.close()

    assert inserted == []
    assert await _deliveries(db) == []  # neither a's (gone with the event) nor b's


async def _waits_for_a_lock(db: Database) -> bool:
    async with db.transaction() as conn:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    return bool(waiting)
