"""The schema behind the ingest's insert (migration 0017): what it must keep doing."""

from __future__ import annotations

import re

from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event, subscriber

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
