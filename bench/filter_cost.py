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
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from bench.db import Server
from bench.filters import FILTERS
from bench.payloads import SOURCE, TOPIC, generate
from bench.storecost import HEADERS, store_cost
from gateway.domain.filters import holds, parse_filter
from gateway.store.database import Database
from gateway.store.migrate import upgrade_to_head
from testkit.factories import subscriber


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
                        store_cost(url, bodies, args.batch, f"r{round_}", judged, args.uuid_ids)
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
