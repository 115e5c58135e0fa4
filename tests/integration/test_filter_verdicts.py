"""The fan-out takes the ingress's verdicts on content filters only from the filters in
force: a subscriber created, changed, disabled or deleted after the verdicts were made
is routed by its filter as it is now, and the verdicts are then marked outdated."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config import WriterConfig
from gateway.domain.filters.judge import FilterInForce, Judge
from gateway.domain.filters.syntax import parse_filter
from gateway.domain.subscriber import SubscriberSettings
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.store import subscribers
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.filters import filters_in_force
from gateway.store.records import IngestEvent, IngestResult, Subscriber
from testkit.factories import event, subscriber

GERMAN = {"body": {"country": "DE"}}
FRENCH = {"body": {"country": "FR"}}


def order(external_id: str, country: str, **changes: Any) -> IngestEvent:
    return event(external_id, body=orjson.dumps({"country": country}), **changes)


async def routed(db: Database, results: list[IngestResult]) -> list[list[str]]:
    """The names of the subscribers each event was delivered to."""
    found = []
    for result in results:
        rows = await db.pool.fetch(
            "SELECT s.name FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.event_id = $1 ORDER BY s.name",
            result.event_id,
        )
        found.append([r["name"] for r in rows])
    return found


async def change_filter(db: Database, sub: Subscriber, raw: dict[str, Any] | None) -> None:
    settings = SubscriberSettings(name=sub.name, url=sub.url, sources=sub.sources, filter=raw)
    await subscribers.update_subscriber(db, sub.id, settings, state="active", state_reason=None)


async def version(db: Database, sub: Subscriber) -> int:
    value: int = await db.pool.fetchval(
        "SELECT filter_version FROM subscribers WHERE id = $1", sub.id
    )
    return value


async def test_the_ingress_verdicts_route_as_postgresql_would_and_stay_current(
    db: Database,
) -> None:
    await subscriber(db, "german", filter=GERMAN)
    await subscriber(db, "not-german", filter={"body": {"country": {"$neq": "DE"}}})
    await subscriber(db, "large", filter={"body": {"total": {"$gte": 100.5}}})
    await subscriber(db, "everything")
    judge = Judge(await filters_in_force(db))
    events = [
        order("o-1", "DE"),
        order("o-2", "FR"),
        event("o-3", body=b"<no json/>"),  # PostgreSQL reads null
        event("o-4", body=b'{"country": "DE", "total": 100.50}'),  # a float: PostgreSQL's
        event("o-5", body=b'{"country": "DE", "total": 100.49}'),
    ]
    results, _ = await insert_batch(db, events, judge)
    assert await routed(db, results) == [
        ["everything", "german"],
        ["everything", "not-german"],
        ["everything", "not-german"],
        ["everything", "german", "large"],
        ["everything", "german"],
    ]
    assert not judge.outdated


async def test_a_verdict_by_the_filter_in_force_is_taken_as_the_ingress_gives_it(
    db: Database,
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    node = parse_filter(FRENCH)  # not the filter stored: the statement cannot tell
    judge = Judge([FilterInForce(german.id, await version(db, german), (), node)])
    results, _ = await insert_batch(db, [order("o-1", "FR"), order("o-2", "DE")], judge)
    assert await routed(db, results) == [["german"], []]
    assert not judge.outdated


async def test_a_subscriber_whose_filter_changed_after_the_verdicts_is_routed_by_its_new_filter(
    db: Database,
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    judge = Judge(await filters_in_force(db))
    await change_filter(db, german, FRENCH)
    results, _ = await insert_batch(db, [order("o-1", "FR"), order("o-2", "DE")], judge)
    assert await routed(db, results) == [["german"], []]
    assert judge.outdated


async def test_a_subscriber_made_after_the_verdicts_is_routed_by_its_filter(
    db: Database,
) -> None:
    await subscriber(db, "german", filter=GERMAN)
    judge = Judge(await filters_in_force(db))
    await subscriber(db, "french", filter=FRENCH)
    results, _ = await insert_batch(db, [order("o-1", "FR"), order("o-2", "DE")], judge)
    assert await routed(db, results) == [["french"], ["german"]]
    assert judge.outdated


@pytest.mark.parametrize("change", ["disable", "delete", "drop the filter"])
async def test_verdicts_by_a_filter_no_longer_in_force_are_not_taken(
    db: Database, change: str
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    judge = Judge(await filters_in_force(db))
    if change == "disable":
        await db.pool.execute("UPDATE subscribers SET state = 'disabled' WHERE id = $1", german.id)
    elif change == "delete":
        await subscribers.delete_subscriber(db, german.id)
    else:
        await change_filter(db, german, None)
    results, _ = await insert_batch(db, [order("o-1", "DE"), order("o-2", "FR")], judge)
    expected = [["german"], ["german"]] if change == "drop the filter" else [[], []]
    assert await routed(db, results) == expected
    assert judge.outdated


async def test_a_filter_version_changes_with_the_filter_or_the_sources_only(
    db: Database,
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    first = await version(db, german)
    await subscribers.pause(db, german.id)
    assert await version(db, german) == first
    await change_filter(db, german, GERMAN)
    assert await version(db, german) == first
    await change_filter(db, german, FRENCH)
    second = await version(db, german)
    assert second != first
    settings = SubscriberSettings(name="german", url=german.url, sources=("erp",), filter=FRENCH)
    await subscribers.update_subscriber(db, german.id, settings, state="active", state_reason=None)
    assert await version(db, german) not in (first, second)


async def test_a_filter_stored_otherwise_than_this_code_compiles_it_is_left_to_postgresql(
    db: Database,
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    await db.pool.execute(
        "UPDATE subscribers SET filter_path = '$.country == \"FR\"' WHERE id = $1", german.id
    )
    [in_force] = await filters_in_force(db)
    assert in_force.node is None
    judge = Judge([in_force])
    results, _ = await insert_batch(db, [order("o-1", "FR"), order("o-2", "DE")], judge)
    assert await routed(db, results) == [["german"], []]
    assert not judge.outdated


async def test_the_writer_routes_by_a_filter_from_the_first_event_after_it_changed(
    db: Database,
) -> None:
    german = await subscriber(db, "german", filter=GERMAN)
    writer = GroupCommitWriter(db, WriterConfig(batch_wait_ms=0), Metrics())
    writer.start()
    try:
        before = [await writer.submit(order("o-1", "DE")), await writer.submit(order("o-2", "FR"))]
        await change_filter(db, german, FRENCH)
        after = [await writer.submit(order("o-3", "DE")), await writer.submit(order("o-4", "FR"))]
        await subscriber(db, "any-country", filter={"body": {"country": {"$exist": True}}})
        later = [await writer.submit(order("o-5", "DE")), await writer.submit(order("o-6", "IT"))]
    finally:
        await writer.close()
    assert await routed(db, before) == [["german"], []]
    assert await routed(db, after) == [[], ["german"]]
    assert await routed(db, later) == [["any-country"], ["any-country"]]


class BrokenJudge(Judge):
    def verdicts(self, *event: Any) -> Any:
        raise RuntimeError("a bug in the verdicts")


async def test_verdicts_that_fail_leave_the_batch_to_postgresql(db: Database) -> None:
    await subscriber(db, "german", filter=GERMAN)
    judge = BrokenJudge(await filters_in_force(db))
    results, _ = await insert_batch(db, [order("o-1", "DE"), order("o-2", "FR")], judge)
    assert await routed(db, results) == [["german"], []]
    assert judge.outdated
