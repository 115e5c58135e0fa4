"""Storing events: dedup by a unique index, fan-out in the same transaction."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from gateway.config import WriterConfig
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.store import StoreError
from gateway.store import deliveries as deliveries_store
from gateway.store.database import Database
from gateway.store.events import get_event, insert_batch
from gateway.store.records import IngestEvent, IngestResult
from testkit.factories import event, subscriber
from testkit.polling import until


async def test_new_events_fan_out_to_every_matching_subscriber_in_the_same_commit(
    db: Database,
) -> None:
    everything = await subscriber(db, "all")
    orders = await subscriber(db, "orders", event_types=("orders/*",))
    other_source = await subscriber(db, "github-only", sources=("github",))
    refunds = await subscriber(db, "refunds", event_types=("refunds/*",))

    results, created = await insert_batch(
        db, [event("o-1"), event("o-2", event_type="refunds/create")]
    )

    assert created == 4
    by_event = {}
    for result in results:
        rows = await deliveries_store.list_deliveries(db, event_id=result.event_id)
        by_event[result.event_id] = {d.subscriber_id for d in rows}
    first, second = (r.event_id for r in results)
    assert by_event[first] == {everything.id, orders.id}
    assert by_event[second] == {everything.id, refunds.id}
    assert other_source.id not in by_event[first] | by_event[second]


async def test_a_duplicate_gets_the_first_event_id_and_creates_no_delivery(db: Database) -> None:
    await subscriber(db)
    [first], created_first = await insert_batch(db, [event("dup")])
    [again], created_again = await insert_batch(db, [event("dup")])

    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.event_id == first.event_id
    assert (created_first, created_again) == (1, 0)


async def test_copies_inside_one_batch_store_one_event(db: Database) -> None:
    await subscriber(db)
    results, created = await insert_batch(db, [event("same"), event("same"), event("other")])
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[0].event_id == results[1].event_id
    assert created == 2


async def test_the_same_id_from_another_source_is_a_different_event(db: Database) -> None:
    results, _ = await insert_batch(db, [event("42", source="shop"), event("42", source="github")])
    assert [r.duplicate for r in results] == [False, False]


async def test_concurrent_copies_on_separate_connections_store_exactly_one_event(
    database_url: str,
) -> None:
    pools = [await Database.connect(database_url, min_size=1, max_size=4) for _ in range(3)]
    try:
        await subscriber(pools[0])
        batches = [insert_batch(pools[i % 3], [event("race")]) for i in range(30)]
        outcomes = await asyncio.gather(*batches)
        results = [r for batch, _ in outcomes for r in batch]
        created = sum(n for _, n in outcomes)
        assert sum(not r.duplicate for r in results) == 1
        assert len({r.event_id for r in results}) == 1
        assert created == 1
    finally:
        for pool in pools:
            await pool.close()


async def test_a_failing_batch_stores_neither_events_nor_deliveries(db: Database) -> None:
    await subscriber(db)
    good = event("good")
    broken = msgspec.structs.replace(event("broken"), headers_json="not json")
    with pytest.raises(StoreError):
        await insert_batch(db, [good, broken])
    assert await deliveries_store.list_deliveries(db) == []
    [stored], _ = await insert_batch(db, [good])
    assert stored.duplicate is False


async def test_the_writer_wakes_the_dispatchers_after_commits_that_create_deliveries(
    db: Database,
) -> None:
    heard: list[str] = []
    listener = await db.listen("gateway_deliveries", lambda *args: heard.append(args[2]))
    writer = GroupCommitWriter(db, WriterConfig(), Metrics())
    writer.start()
    try:
        await writer.submit(event("no-subscriber-yet"))
        await asyncio.sleep(0.3)  # room for a notification that should not come
        assert heard == []

        await subscriber(db)
        await asyncio.gather(*(writer.submit(event(f"n-{n}")) for n in range(3)))
        await until(lambda: heard, 5, 0.01)
    finally:
        await writer.close()
        await listener.close()
    assert set(heard) == {"gateway_deliveries"}


async def test_session_state_is_reset_before_the_connection_serves_anyone_else(
    database_url: str,
) -> None:
    single = await Database.connect(database_url, min_size=1, max_size=1)
    try:
        async with single.session() as conn:
            await conn.execute("SELECT set_config('lock_timeout', '1234ms', false)")
            assert await conn.fetchval("SELECT pg_try_advisory_lock(42)")
        async with single.transaction() as conn:
            timeout = await conn.fetchval("SHOW lock_timeout")
            held = await conn.fetchval(
                "SELECT count(*) FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        assert (timeout, held) == ("0", 0)
    finally:
        await single.close()


WEEK = 7 * 86400.0


def replayable(
    external_id: str,
    body: bytes = b'{"order": 1}',
    source: str = "shop",
    event_type: str = "orders/create",
) -> IngestEvent:
    """An event of a source that remembers bodies for a week, with a body of our choosing."""
    stored = event(external_id, source=source, event_type=event_type)
    return msgspec.structs.replace(stored, body=body, replay_window_seconds=WEEK)


async def test_the_same_type_and_body_under_a_new_id_is_a_duplicate_of_the_first(
    db: Database,
) -> None:
    await subscriber(db)
    [first], created_first = await insert_batch(db, [replayable("wh-1")])
    [again], created_again = await insert_batch(db, [replayable("wh-2")])

    assert again == IngestResult(first.event_id, True)
    assert (created_first, created_again) == (1, 0)
    assert await db.pool.fetchval("SELECT count(*) FROM events") == 1


async def test_copies_of_a_body_inside_one_batch_store_one_event(db: Database) -> None:
    await subscriber(db)
    results, created = await insert_batch(
        db, [replayable("a"), replayable("b"), replayable("c", b'{"order": 2}')]
    )
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[1].event_id == results[0].event_id
    assert created == 2


async def test_the_same_body_as_another_event_type_or_source_is_a_new_event(
    db: Database,
) -> None:
    results, _ = await insert_batch(
        db,
        [
            replayable("a"),
            replayable("b", event_type="orders/updated"),
            replayable("c", source="other-shop"),
        ],
    )
    assert [r.duplicate for r in results] == [False, False, False]


async def test_without_a_window_the_same_body_under_a_new_id_is_a_new_event(
    db: Database,
) -> None:
    off = [msgspec.structs.replace(replayable(name), replay_window_seconds=0.0) for name in "ab"]
    results, _ = await insert_batch(db, off)
    assert [r.duplicate for r in results] == [False, False]


async def test_a_body_seen_before_the_window_began_is_a_new_event_and_counts_from_then(
    db: Database,
) -> None:
    await subscriber(db)
    [old], _ = await insert_batch(db, [replayable("wh-1")])
    await db.pool.execute(
        "UPDATE events SET received_at = now() - interval '7 days 1 minute' WHERE id = $1",
        old.event_id,
    )
    [later], created = await insert_batch(db, [replayable("wh-2")])
    [third], _ = await insert_batch(db, [replayable("wh-3")])

    assert later.duplicate is False and later.event_id != old.event_id
    assert created == 1
    assert third == IngestResult(later.event_id, True)


async def test_a_window_is_judged_by_the_time_the_first_copy_was_received(db: Database) -> None:
    [old], _ = await insert_batch(db, [replayable("wh-1")])
    await db.pool.execute(
        "UPDATE events SET received_at = now() - interval '6 days 23 hours' WHERE id = $1",
        old.event_id,
    )
    [again], _ = await insert_batch(db, [replayable("wh-2")])
    assert again == IngestResult(old.event_id, True)


async def test_a_replay_of_a_stored_id_is_answered_with_the_event_of_that_id(db: Database) -> None:
    [first], _ = await insert_batch(db, [replayable("wh-1", b'{"order": 1}')])
    [second], _ = await insert_batch(db, [replayable("wh-2", b'{"order": 2}')])
    # The id of the first, the body of the second: a duplicate of the first by its id.
    [both], _ = await insert_batch(db, [replayable("wh-1", b'{"order": 2}')])
    assert both == IngestResult(first.event_id, True)
    assert second.duplicate is False


async def test_a_copy_whose_first_was_removed_meanwhile_is_stored(db: Database) -> None:
    [first], _ = await insert_batch(db, [replayable("wh-1")])
    await db.pool.execute("DELETE FROM events WHERE id = $1", first.event_id)
    [again], _ = await insert_batch(db, [replayable("wh-2")])
    assert again.duplicate is False


async def test_concurrent_copies_of_a_body_under_new_ids_store_exactly_one_event(
    database_url: str,
) -> None:
    pools = [await Database.connect(database_url, min_size=1, max_size=4) for _ in range(3)]
    try:
        await subscriber(pools[0])
        batches = [insert_batch(pools[i % 3], [replayable(f"id-{i}")]) for i in range(30)]
        outcomes = await asyncio.gather(*batches)
        results = [r for batch, _ in outcomes for r in batch]
        assert sum(not r.duplicate for r in results) == 1
        assert len({r.event_id for r in results}) == 1
        assert sum(n for _, n in outcomes) == 1
    finally:
        for pool in pools:
            await pool.close()


async def test_an_xml_bodys_view_is_stored_with_it_and_other_bodies_have_none(
    db: Database,
) -> None:
    xml = msgspec.structs.replace(
        event("x-1"),
        content_type="application/xml",
        body=b'<order id="7"><line sku="A"/><line sku="B"/></order>',
        body_view='{"order": {"@id": "7", "line": [{"@sku": "A"}, {"@sku": "B"}]}}',
    )
    [as_xml, as_json], _ = await insert_batch(db, [xml, event("j-1")])

    stored_xml = await get_event(db, as_xml.event_id)
    stored_json = await get_event(db, as_json.event_id)

    assert stored_xml.body == xml.body
    assert stored_xml.body_view == {"order": {"@id": "7", "line": [{"@sku": "A"}, {"@sku": "B"}]}}
    assert stored_json.body_view is None
    nulls = await db.pool.fetchval("SELECT count(*) FROM events WHERE body_view IS NULL")
    assert nulls == 1
