"""Finding events by a sender's id: through the dedup key, with or without a source."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.store.database import Database
from gateway.store.events import insert_batch, list_events
from gateway.store.sql import QUERIES
from testkit.factories import event


async def _found(db: Database, external_id: str, source: str | None = None) -> list[str]:
    rows = await list_events(db, external_id=external_id, source=source)
    return sorted(f"{r.external_id}@{r.source}" for r in rows)


async def test_a_sender_id_without_a_source_is_found_under_every_source_that_holds_it(
    db: Database,
) -> None:
    assert await _found(db, "wh-1") == []  # nothing stored: no source to look in
    await insert_batch(
        db,
        [
            event("wh-1", source="github"),
            event("wh-1", source="shop"),
            event("wh-2", source="shop"),
            event("wh-1", source="stripe"),
            event("wh-3", source="woo"),
        ],
    )

    assert await _found(db, "wh-1") == ["wh-1@github", "wh-1@shop", "wh-1@stripe"]
    assert await _found(db, "wh-3") == ["wh-3@woo"]
    assert await _found(db, "wh-1", source="shop") == ["wh-1@shop"]
    assert await _found(db, "wh-3", source="shop") == []
    assert await _found(db, "wh-9") == []


async def test_the_sources_are_listed_once_each_in_order(db: Database) -> None:
    await insert_batch(db, [event(f"e-{i}", source=s) for i, s in enumerate("cabcab")])
    assert [r["source"] for r in await db.fetch("event_sources")] == ["a", "b", "c"]


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def test_a_lookup_by_sender_id_reads_indexes_not_the_table_however_often_it_runs(
    db: Database,
) -> None:
    """PostgreSQL plans a prepared statement for its parameters five times, then may keep
    one generic plan, in which the optional filters cannot use an index: the lookup must
    stay on the dedup key past that point too. (PostgreSQL 18, the embedded server, could
    also skip-scan the dedup key without the sources; earlier versions cannot, which is
    why the store names them.)"""
    for first in range(0, 3000, 500):
        batch = [
            event(f"wh-{i}", source=("shop", "github")[i % 2]) for i in range(first, first + 500)
        ]
        await insert_batch(db, batch)
    async with db.transaction() as conn:
        await conn.execute("ANALYZE events")
        [[text]] = await conn.fetch(f"EXPLAIN (FORMAT JSON) {QUERIES['event_sources']}")
        nodes = _plan_nodes(json.loads(text)[0]["Plan"])
        assert all(n["Node Type"] != "Seq Scan" for n in nodes), nodes  # a descent a source
        await conn.execute(f"PREPARE lookup AS {QUERIES['list_events']}")
        for run in range(8):
            [[text]] = await conn.fetch(
                "EXPLAIN (FORMAT JSON) EXECUTE lookup"
                f"(ARRAY['github', 'shop'], NULL, 'wh-{run}', NULL, NULL, NULL, 101)"
            )
            nodes = _plan_nodes(json.loads(text)[0]["Plan"])
            scans = [
                (n["Node Type"], n.get("Index Name")) for n in nodes if "Scan" in n["Node Type"]
            ]
            assert all(kind != "Seq Scan" for kind, _ in scans), (run, scans)
            assert any(index == "events_source_external_id_key" for _, index in scans), (run, scans)


async def _indexes(db: Database) -> dict[str, bool]:
    rows = await db.pool.fetch(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'events'::regclass"
    )
    return {r["relname"]: r["indisvalid"] for r in rows}


async def test_the_sender_id_index_goes_with_migration_0018_and_comes_back_with_its_downgrade(
    db: Database, database_url: str
) -> None:
    from alembic import command

    from gateway.store.migrate import _alembic_config, upgrade_to_head

    await insert_batch(db, [event("wh-1"), event("wh-2", source="github")])
    assert "events_external_id_idx" not in await _indexes(db)
    assert (await _indexes(db))["events_source_external_id_key"] is True

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0017")
    assert (await _indexes(db))["events_external_id_idx"] is True  # built, and valid

    await upgrade_to_head(database_url)
    assert "events_external_id_idx" not in await _indexes(db)
    assert await _found(db, "wh-2") == ["wh-2@github"]
