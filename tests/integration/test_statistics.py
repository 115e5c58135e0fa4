"""What ANALYZE keeps about the event table: nothing of its bodies and headers."""

from __future__ import annotations

from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event


async def test_analyze_keeps_no_statistics_of_event_bodies_and_headers(db: Database) -> None:
    await insert_batch(db, [event(f"o-{i}") for i in range(50)])
    await db.pool.execute("ANALYZE events")
    columns = {
        r["attname"]
        for r in await db.pool.fetch(
            "SELECT attname FROM pg_stats WHERE schemaname = 'public' AND tablename = 'events'"
        )
    }
    assert {"id", "source", "external_id", "received_at"} <= columns
    assert columns.isdisjoint({"body", "headers"})
