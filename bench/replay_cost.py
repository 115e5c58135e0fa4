"""What the replay window costs the group-commit insert: time and WAL per event, on and off.

    .venv/bin/python -m bench.replay_cost [--batches 2000] [--batch 64] [--rounds 2]

Starts the embedded PostgreSQL (``gateway/store/embedded.py``, the gateway's own tuning) in a
temporary directory under /tmp and migrates a template holding two subscribers, as the
bench's has. Each round stores ``batches`` x ``batch`` realistic Shopify orders
(bench/payloads.py; every body distinct, so nothing is a duplicate) through the writer's
``insert_batch``, one batch after another, on a fresh clone of the template, once with
the window on (Shopify's 7 days) and once off, alternating. Each measured run starts
after a CHECKPOINT, so both pay their first page writes alike. Prints, per run, the time
and the WAL per event, the size of the digest index per event, and (window on) what
setting every digest to NULL afterwards would cost, batch by batch as retention would.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.db import Server
from bench.payloads import SOURCE, TOPIC, generate
from gateway.domain.ids import new_id
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.migrate import upgrade_to_head
from gateway.store.records import IngestEvent
from testkit.factories import subscriber

WEEK = 7 * 86400.0
HEADERS = '{"content-type": "application/json", "x-shopify-topic": "orders/create"}'
INDEX = "events_source_replay_digest_key"


async def _template(url: str) -> None:
    await upgrade_to_head(url)
    db = await Database.connect(url, min_size=1, max_size=1)
    try:
        for name in ("a", "b"):
            await subscriber(db, f"warehouse-{name}", f"http://127.0.0.1:9/{name}")
    finally:
        await db.close()


def _events(bodies: list[bytes], window: float, tag: str) -> list[IngestEvent]:
    extra: dict[str, Any] = {"replay_window_seconds": window} if window else {}
    return [
        IngestEvent(
            id=new_id("evt"),
            source=SOURCE,
            external_id=f"{tag}-{n}",
            event_type=TOPIC,
            ordering_key=None,
            content_type="application/json",
            headers_json=HEADERS,
            body=body,
            **extra,
        )
        for n, body in enumerate(bodies)
    ]


async def _run(url: str, bodies: list[bytes], batch: int, window: float) -> dict[str, float]:
    events = _events(bodies, window, f"w{int(window)}")
    db = await Database.connect(url, min_size=1, max_size=1, generic_plans=True)
    admin = await asyncpg.connect(url)
    try:
        await admin.execute("CHECKPOINT")
        before = await admin.fetchval("SELECT pg_current_wal_lsn()")
        started = time.perf_counter()
        for at in range(0, len(events), batch):
            results, _ = await insert_batch(db, events[at : at + batch])
            assert not any(r.duplicate for r in results)
        seconds = time.perf_counter() - started
        wal = await admin.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", before)
        index = await admin.fetchval("SELECT coalesce(pg_relation_size(to_regclass($1)), 0)", INDEX)
        cleared = await _clear(admin) if window else {}
    finally:
        await admin.close()
        await db.close()
    n = len(events)
    return {
        "seconds": round(seconds, 2),
        "us_per_event": round(seconds / n * 1e6, 1),
        "wal_bytes_per_event": round(float(wal) / n),
        "digest_index_bytes_per_event": round(index / n, 1),
    } | cleared


async def _clear(admin: asyncpg.Connection, batch: int = 1000) -> dict[str, float]:
    """What setting every digest to NULL would cost, in retention-sized batches (the
    design this window does without: see gateway/maintenance/retention.py)."""
    await admin.execute("CHECKPOINT")
    before = await admin.fetchval("SELECT pg_current_wal_lsn()")
    started = time.perf_counter()
    n = 0
    while True:
        done = await admin.fetchval(
            """
            WITH b AS (SELECT id FROM events WHERE replay_digest IS NOT NULL LIMIT $1),
                 u AS (UPDATE events e SET replay_digest = NULL FROM b WHERE e.id = b.id
                       RETURNING 1)
            SELECT count(*) FROM u
            """,
            batch,
        )
        n += done
        if done < batch:
            break
    seconds = time.perf_counter() - started
    wal = await admin.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", before)
    return {
        "clear_us_per_event": round(seconds / max(n, 1) * 1e6, 1),
        "clear_wal_bytes_per_event": round(float(wal) / max(n, 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settings", default="on,off", help="on, off, or both (on,off)")
    args = parser.parse_args()
    windows = [WEEK if s == "on" else 0.0 for s in args.settings.split(",")]
    bodies = [s.body for s in generate(args.batches * args.batch)]
    workdir = Path(tempfile.mkdtemp(prefix="replay-cost-", dir="/tmp"))
    server = Server(workdir / "pg")
    try:
        server.create("replay_template")
        asyncio.run(_template(server.url("replay_template")))
        for round_ in range(args.rounds):
            for window in windows:
                url = server.create("replay_run", "replay_template")
                figures = asyncio.run(_run(url, bodies, args.batch, window))
                print(f"round {round_ + 1} window {'on ' if window else 'off'} {figures}")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
