"""The fan-out routes by content filters in the statement that stores the events: over
the body (or null when the body is no JSON), the headers as stored, the type and the
source; a replay follows the filters as they are now; the event's page lists the
subscribers whose filter refused it, and only those."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.store import replay
from gateway.store.database import Database
from gateway.store.events import filtered_subscribers
from testkit.factories import event, store_events, subscriber


async def routed(db: Database, event_id: str) -> list[str]:
    rows = await db.pool.fetch(
        "SELECT s.name FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
        " WHERE d.event_id = $1 ORDER BY s.name",
        event_id,
    )
    return [r["name"] for r in rows]


async def test_filters_over_headers_type_source_and_body_route_each_event(db: Database) -> None:
    filters: dict[str, Any] = {
        "by-header": {"headers": {"X-Tenant": "7"}},
        "by-type": {"type": {"$startsWith": "orders/"}},
        "by-source": {"source": {"$in": ["erp"]}},
        "by-body": {"body": {"order": {"$regex": "^o-[0-9]+$"}}},
        "no-body": {"body": {"order": {"$exist": False}}},
    }
    for name, spec in filters.items():
        await subscriber(db, name, filter=spec)
    results = await store_events(
        db,
        [
            event("o-1", headers={"x-tenant": "7"}),
            event("o-2", event_type="refunds/create", headers={"x-tenant": "8"}),
            event("x-3", source="erp", event_type=None, body=b"<not json/>"),
        ],
    )
    assert [await routed(db, r.event_id) for r in results] == [
        ["by-body", "by-header", "by-type"],
        ["by-body"],
        ["by-source", "no-body"],
    ]


async def test_a_body_postgresql_cannot_read_as_json_is_null_and_still_stored(
    db: Database,
) -> None:
    await subscriber(db, "takes-null", filter={"body": {"$exist": True, "$eq": None}})
    await subscriber(db, "takes-orders", filter={"body": {"order": {"$exist": True}}})
    bodies = [b'{"order": "a\\u0000b"}', b"\xff\xfe", b"[1e999999]", b"null"]
    results = await store_events(db, [event(f"o-{n}", body=b) for n, b in enumerate(bodies)])
    assert not any(r.duplicate for r in results)
    assert [await routed(db, r.event_id) for r in results] == [["takes-null"]] * len(bodies)


async def test_a_replay_follows_the_filters_as_they_are_now(db: Database) -> None:
    german = await subscriber(db, "german", filter={"body": {"country": "DE"}})
    [stored] = await store_events(db, [event("o-1", body=orjson.dumps({"country": "FR"}))])
    assert await routed(db, stored.event_id) == []
    assert await replay.replay_event(db, stored.event_id) == []
    await db.pool.execute(
        "UPDATE subscribers SET filter_path = '$.country == \"FR\"' WHERE id = $1", german.id
    )
    assert len(await replay.replay_event(db, stored.event_id)) == 1
    assert await routed(db, stored.event_id) == ["german"]


async def test_the_page_lists_only_subscribers_whose_filter_refused_the_event(
    db: Database,
) -> None:
    await subscriber(db, "refuses", filter={"body": {"country": "DE"}})
    await subscriber(db, "takes", filter={"body": {"country": "FR"}})
    await subscriber(db, "other-type", event_types=("refunds/*",), filter={"body": {"x": 1}})
    disabled = await subscriber(db, "disabled", filter={"body": {"country": "DE"}})
    await db.pool.execute("UPDATE subscribers SET state = 'disabled' WHERE id = $1", disabled.id)
    [stored] = await store_events(db, [event("o-1", body=orjson.dumps({"country": "FR"}))])
    await subscriber(db, "newer", filter={"body": {"country": "DE"}})
    listed = await filtered_subscribers(db, stored.event_id)
    assert [(s.name, s.filter) for s in listed] == [("refuses", {"body": {"country": "DE"}})]
