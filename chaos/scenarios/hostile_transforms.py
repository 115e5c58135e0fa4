"""Scenario: subscribers whose transforms attack the sandbox, beside healthy ones.

The same load runs twice through one gateway: first with two healthy subscribers (one
plain, one with a small transform), then with four more whose transforms spin forever,
fill their heap, recurse without end and answer 2 MiB, on every event. Each hostile
delivery must end in the dead letters as ``transform_error`` having sent nothing, the
healthy subscribers must get everything, and the gateway must live. Their latency
(acknowledgement to arrival), p50 / p95 / p99, is compared between the two runs and
reported, not asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import asyncpg

from chaos.checker import Verdict, check
from chaos.lab import Lab, Resources, gateway_config
from chaos.load import Ledger, Load, Sender
from chaos.sizes import Size
from chaos.subscribers import Recorder
from testkit.adminapi import register
from testkit.polling import until

BENIGN = "function handler(request) { return {headers: {'X-Checked': 'yes'}}; }"
HOSTILE = {
    "spin": "function handler(r) { for (;;) {} }",
    "bomb": "function handler(r) { const a = []; for (;;) a.push(new Array(1e5).fill(r)); }",
    "recurse": "function handler(r) { function f(n) { return f(n + 1) + 1; } return f(0); }",
    "huge": "function handler(r) { return {body: 'x'.repeat(2 * 1024 * 1024)}; }",
}
MAX_RSS = 768 * 1024 * 1024


async def hostile_transforms(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict("hostile transforms beside healthy subscribers")
    began = time.monotonic()
    url = await lab.database()
    plain = await lab.recorder("plain")
    shaped = await lab.recorder("shaped")
    # Leases at their default: the suite's short ones are for crash scenarios, and a
    # delivery waits for its turn at the transform workers while leased.
    config = gateway_config(url, delivery={"lease_seconds": 60})
    gateway = lab.gateway(config, "transforms")
    await lab.start(gateway)
    await lab.subscribe(gateway, plain, name=plain.name)
    await _subscribe(lab, gateway, shaped, BENIGN)
    resources = Resources(gateway.pid)
    ledger = Ledger()
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        alone = await _phase(sender, ledger, [plain, shaped], "alone", size)
        traps = [await lab.recorder(name) for name in HOSTILE]
        for trap in traps:
            await _subscribe(lab, gateway, trap, HOSTILE[trap.name])
        stop = asyncio.Event()
        watching = asyncio.create_task(resources.watch(stop))
        try:
            beside = await _phase(sender, ledger, [plain, shaped], "beside", size)
            ids = [t.subscriber_id for t in traps]
            await until(lambda: _all_dead(url, ids), 300)
        finally:
            stop.set()
            await watching
    for name, figures in (("alone", alone), ("beside_hostile_transforms", beside)):
        for subscriber, cuts in figures.items():
            verdict.figures[f"{subscriber}_latency_ms_{name}"] = cuts
    errors = await _transform_errors(url, [t.subscriber_id for t in traps])
    verdict.figures["hostile_deliveries_by_outcome"] = errors
    verdict.figures["gateway_max_rss_mib"] = round(resources.rss / 1024 / 1024, 1)
    if any(t.sink.received for t in traps):
        verdict.fail("a hostile transform's subscriber received a request")
    if set(errors) != {"dead transform_error"}:
        verdict.fail(f"hostile deliveries did not all end as transform errors: {errors}")
    if resources.rss > MAX_RSS:
        verdict.fail(f"gateway memory {resources.rss} bytes > {MAX_RSS}")
    if gateway.proc is None or gateway.proc.poll() is not None:
        verdict.fail("the gateway died")
    await check(verdict, url, ledger, [plain, shaped])
    verdict.seconds = time.monotonic() - began
    return verdict


async def _subscribe(lab: Lab, gateway: Any, recorder: Recorder, source: str) -> None:
    if lab.token is None:
        lab.token = await asyncio.to_thread(gateway.token, "admin")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        created = await register(
            http, gateway, lab.token, recorder.url, name=recorder.name, transform={"source": source}
        )
    recorder.secret = created["secret"]
    recorder.subscriber_id = created["id"]


async def _phase(
    sender: Sender, ledger: Ledger, healthy: list[Recorder], name: str, size: Size
) -> dict[str, dict[str, float]]:
    """Send ``size.bad_events`` events; each healthy subscriber's latency percentiles (ms)."""
    sender.stopping = False
    load = Load(sender, name, rate=size.rate, senders=size.senders).start()
    await until(lambda: load.sent >= size.bad_events, size.bad_events / size.rate + 60)
    await load.stop()
    acked = {e: ledger.acked_at[s] for s, e in ledger.acked.items() if s.startswith(name + "-")}
    figures = {}
    for recorder in healthy:
        await until(lambda r=recorder: acked.keys() <= r.first.keys(), 180)  # type: ignore[misc]
        latencies = sorted((recorder.first[e] - at) * 1000 for e, at in acked.items())
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        figures[recorder.name] = {
            "events": len(latencies),
            "p50": round(cuts[49], 1),
            "p95": round(cuts[94], 1),
            "p99": round(cuts[98], 1),
            "max": round(latencies[-1], 1) if latencies else 0.0,
        }
    return figures


async def _all_dead(url: str, subscriber_ids: list[str | None]) -> bool:
    conn = await asyncpg.connect(url)
    try:
        open_ = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE subscriber_id = ANY($1::text[])"
            " AND status NOT IN ('dead', 'succeeded', 'cancelled')",
            subscriber_ids,
        )
    finally:
        await conn.close()
    return bool(open_ == 0)


async def _transform_errors(url: str, subscriber_ids: list[str | None]) -> dict[str, int]:
    """The hostile subscribers' deliveries by status and their attempts' outcome."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT d.status || ' ' || a.outcome AS how, count(*) AS n FROM deliveries d"
            " JOIN delivery_attempts a ON a.delivery_id = d.id"
            " WHERE d.subscriber_id = ANY($1::text[]) GROUP BY 1",
            subscriber_ids,
        )
    finally:
        await conn.close()
    return {row["how"]: row["n"] for row in rows}
