"""What content filters cost an event: in PostgreSQL, in the ingress, and interpreted.

    .venv/bin/python -m bench.filter_cost [--batches 500] [--batch 64] [--rounds 2] [--uuid-ids]

Starts the embedded server in a temporary directory under /tmp and migrates a template
holding the bench's two subscribers, then stores ``batches`` x ``batch`` realistic
Shopify orders through the writer's ``insert_batch``, on a fresh clone, once with only
those two and once with the ten filtered subscribers of bench/filters.py beside them
(which take none of the orders, so both write the same deliveries), alternating. Each
run is made as the ingress makes it: with the verdicts of the filters it read from the
database (``judge``), and once more without them (``--no-judge``: PostgreSQL evaluates
every filter). The figures, per event: the CPU time of the backend that ran the
statements (``/proc``), the WAL it wrote, and the CPU time of the verdicts in this
process. Senders' ids come in order (a round's tag, then a counter, as workload 1 sends
them), or with ``--uuid-ids`` as random UUIDs, as Shopify's are: each lands anywhere in
the indexes on them.

Python, interpreted (the way not taken): the same orders parsed with orjson and the same
ten filters evaluated by ``gateway.domain.filters.holds``, per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from bench.db import Server
from bench.filters import FILTERS
from bench.payloads import SOURCE, TOPIC, generate
from gateway.domain.filters import holds, parse_filter
from gateway.domain.filters.judge import Judge
from gateway.domain.ids import new_id
from gateway.store.database import Database
from gateway.store.events import insert_batch
from gateway.store.filters import filters_in_force
from gateway.store.migrate import upgrade_to_head
from gateway.store.records import IngestEvent
from testkit.factories import subscriber

HEADERS = (
    '{"content-type": "application/json", "x-shopify-topic": "orders/create", '
    '"x-shopify-shop-domain": "bench-shop.myshopify.com"}'
)
TICK = os.sysconf("SC_CLK_TCK")


async def _template(url: str, filtered: bool) -> None:
    await upgrade_to_head(url)
    db = await Database.connect(url, min_size=1, max_size=1)
    try:
        for name in ("a", "b"):
            await subscriber(db, f"warehouse-{name}", f"http://127.0.0.1:9/{name}")
        for n, spec in enumerate(FILTERS if filtered else []):
            await subscriber(db, f"warehouse-{n}", f"http://127.0.0.1:9/f{n}", filter=spec)
    finally:
        await db.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def _sql(
    url: str, bodies: list[bytes], batch: int, tag: str, judged: bool, uuid_ids: bool
) -> dict[str, float]:
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


def _python(bodies: list[bytes]) -> dict[str, float]:
    filters = [parse_filter(f) for f in FILTERS]
    started = time.process_time()
    for body in bodies:
        document = {"type": TOPIC, "source": SOURCE, "id": "evt", "headers": orjson.loads(HEADERS),
                    "body": orjson.loads(body)}  # fmt: skip
        for node in filters:
            assert node is not None and not holds(node, document)
    seconds = time.process_time() - started
    return {"cpu_us_per_event": round(seconds / len(bodies) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-judge", action="store_true", help="also without verdicts")
    parser.add_argument("--uuid-ids", action="store_true", help="senders' ids random UUIDs")
    args = parser.parse_args()
    bodies = [s.body for s in generate(args.batches * args.batch)]
    workdir = Path(tempfile.mkdtemp(prefix="filter-cost-", dir="/tmp"))
    server = Server(workdir / "pg")
    ways = [True, False] if args.no_judge else [True]
    try:
        for filtered in (False, True):
            name = f"filters_{int(filtered)}"
            server.create(name)
            asyncio.run(_template(server.url(name), filtered))
        for round_ in range(args.rounds):
            for judged in ways:
                for filtered in (False, True):
                    url = server.create("filter_run", f"filters_{int(filtered)}")
                    figures = asyncio.run(
                        _sql(url, bodies, args.batch, f"r{round_}", judged, args.uuid_ids)
                    )
                    label = ("10 filters" if filtered else "no filter ") + (
                        "" if judged else ", no verdicts"
                    )
                    print(f"round {round_ + 1} PostgreSQL, {label} {figures}", flush=True)
            print(f"round {round_ + 1} Python, 10 filters {_python(bodies)}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
