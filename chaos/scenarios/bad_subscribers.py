"""Scenario 5: subscribers that hang, reset, answer slowly or answer with huge bodies.

The same load runs twice through one gateway: first with only a healthy subscriber,
then with four misbehaving ones beside it. The healthy subscriber's delivery latency
(acknowledgement to arrival) is compared between the two runs and reported, not
asserted; what is asserted is that the gateway stays bounded — its memory, file
descriptors and sockets stay under fixed generous limits — and that the healthy
subscriber still gets everything.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from chaos.checker import Verdict, check
from chaos.lab import Lab, Resources, gateway_config
from chaos.load import Ledger, Load, Sender
from chaos.sizes import Size
from chaos.subscribers import RawSubscriber, Recorder, hang, huge, reset, slow
from testkit.polling import until

MAX_RSS = 512 * 1024 * 1024
MAX_FDS = 1000
MAX_SOCKETS = 600
TIMEOUT = 2.0  # the gateway's delivery timeout


async def bad_subscribers(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict("misbehaving subscribers beside a healthy one")
    began = time.monotonic()
    url = await lab.database()
    healthy = await lab.recorder("healthy")
    gateway = lab.gateway(gateway_config(url, delivery={"timeout_seconds": TIMEOUT}), "bad")
    await lab.start(gateway)
    await lab.subscribe(gateway, healthy, name=healthy.name)
    resources = Resources(gateway.pid)
    ledger = Ledger()
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        alone = await _phase(sender, ledger, healthy, "alone", size)
        bad = [
            await RawSubscriber("hang", hang).start(),
            await RawSubscriber("reset", reset).start(),
            await RawSubscriber("slow", slow(TIMEOUT * 0.75)).start(),
            await RawSubscriber("huge", huge(256 * 1024 * 1024)).start(),
        ]
        lab.others.extend(bad)
        for subscriber in bad:
            await lab.subscribe(gateway, None, name=subscriber.name, url=subscriber.url)
        stop = asyncio.Event()
        watching = asyncio.create_task(resources.watch(stop))
        try:
            beside = await _phase(sender, ledger, healthy, "beside", size)
            await asyncio.sleep(TIMEOUT * 2)  # a round of hung attempts times out meanwhile
        finally:
            stop.set()
            await watching
    verdict.figures["healthy_latency_ms_alone"] = alone
    verdict.figures["healthy_latency_ms_beside_bad_ones"] = beside
    verdict.figures["latency_ratio_p50_p95"] = [
        round(beside["p50"] / max(alone["p50"], 0.1), 2),
        round(beside["p95"] / max(alone["p95"], 0.1), 2),
    ]
    verdict.figures["gateway_max_rss_mib"] = round(resources.rss / 1024 / 1024, 1)
    verdict.figures["gateway_max_fds"] = resources.fds
    verdict.figures["gateway_max_sockets"] = resources.sockets
    verdict.figures["bad_subscriber_connections"] = {
        s.name: {"accepted": s.connections, "most_open": s.most_open} for s in bad
    }
    if resources.samples == 0:
        verdict.fail("the gateway's resources were never sampled")
    if resources.rss > MAX_RSS:
        verdict.fail(f"gateway memory {resources.rss} bytes > {MAX_RSS}")
    if resources.fds > MAX_FDS:
        verdict.fail(f"gateway file descriptors {resources.fds} > {MAX_FDS}")
    if resources.sockets > MAX_SOCKETS:
        verdict.fail(f"gateway sockets {resources.sockets} > {MAX_SOCKETS}")
    if gateway.proc is None or gateway.proc.poll() is not None:
        verdict.fail("the gateway died")
    await check(verdict, url, ledger, [healthy])
    verdict.seconds = time.monotonic() - began
    return verdict


async def _phase(
    sender: Sender, ledger: Ledger, healthy: Recorder, name: str, size: Size
) -> dict[str, float]:
    """Send ``size.bad_events`` events; the healthy subscriber's latency percentiles (ms)."""
    sender.stopping = False
    load = Load(sender, name, rate=size.rate, senders=size.senders).start()
    await until(lambda: load.sent >= size.bad_events, size.bad_events / size.rate + 60)
    await load.stop()
    acked = {e: ledger.acked_at[s] for s, e in ledger.acked.items() if s.startswith(name + "-")}
    # slowed down, perhaps, but it must all arrive
    await until(lambda: acked.keys() <= healthy.first.keys(), 180)
    latencies = sorted((healthy.first[e] - at) * 1000 for e, at in acked.items())
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "events": len(latencies),
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "max": round(latencies[-1], 1) if latencies else 0.0,
    }
