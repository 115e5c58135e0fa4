"""What storing events costs PostgreSQL alone: the writer's ``insert_batch`` over one
connection, measured at its backend (CPU time from ``/proc``) and in the WAL it wrote.

Used by ``python -m bench.filter_cost`` and by workload 9 (random ids just after a
checkpoint, on a grown database and on an empty one)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from bench.payloads import SOURCE, TOPIC
from gateway.domain.filters.judge import Judge
from gateway.domain.ids import new_id
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.filters import filters_in_force
from gateway.store.records import IngestEvent

__all__ = ["HEADERS", "store_cost"]

HEADERS = (
    '{"content-type": "application/json", "x-shopify-topic": "orders/create", '
    '"x-shopify-shop-domain": "bench-shop.myshopify.com"}'
)
TICK = os.sysconf("SC_CLK_TCK")


async def store_cost(
    url: str, bodies: list[bytes], batch: int, tag: str, judged: bool, uuid_ids: bool
) -> dict[str, float]:
    """Store ``bodies`` as Shopify orders, ``batch`` a statement, on the database at
    ``url``; the figures per event. Senders' ids come in order (``tag``, then a counter,
    as workload 1 sends them), or as random UUIDs (``uuid_ids``), as Shopify's are. With
    ``judged``, each batch goes with the verdicts of the filters in force, as the ingress
    sends it, and the verdicts' CPU time in this process is counted apart."""
    events = [
        IngestEvent(new_id("evt"), SOURCE, str(uuid.uuid4()) if uuid_ids else f"{tag}-{n}",
                    TOPIC, None, "application/json", HEADERS, body)
        for n, body in enumerate(bodies)
    ]  # fmt: skip
    db = await Database.connect(url, min_size=1, max_size=1, generic_plans=True)
    try:
        judge = Judge(await filters_in_force(db)) if judged else None
        judging = _judging(judge, events)
        backend = await _backend(db)  # a pool of one: every statement runs there
        wal = await _wal_position(db)
        cpu, started = _cpu_seconds(backend), time.perf_counter()
        created = 0
        for at in range(0, len(events), batch):
            _, made = await insert_batch(db, events[at : at + batch], judge)
            created += made
        seconds, cpu = time.perf_counter() - started, _cpu_seconds(backend) - cpu
        wal = await _wal_position(db) - wal
    finally:
        await db.close()
    n = len(events)
    return {
        "backend_cpu_us_per_event": round(cpu / n * 1e6, 1),
        "verdicts_cpu_us_per_event": round(judging / n * 1e6, 1),
        "wal_bytes_per_event": round(wal / n),
        "wall_us_per_event": round(seconds / n * 1e6, 1),
        "deliveries_per_event": round(created / n, 2),
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _judging(judge: Judge | None, events: list[IngestEvent]) -> float:
    """The CPU seconds the verdicts on ``events`` take in this process."""
    if judge is None:
        return 0.0
    started = time.process_time()
    for e in events:
        judge.verdicts(e.source, e.id, e.event_type, e.headers_json, e.body, e.body_view)
    return time.process_time() - started


async def _wal_position(db: Database) -> int:
    async with db.transaction() as conn:
        return int(await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'"))


async def _backend(db: Database) -> int:
    async with db.transaction() as conn:
        return int(conn.get_server_pid())
