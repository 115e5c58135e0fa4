"""Scenario 3: PostgreSQL killed with ``kill -9`` under load, then restarted.

The scenario's own PostgreSQL (chaos/postgres.py) loses the postmaster and every
backend at once, stays down a moment, and starts again through crash recovery. An
acknowledged event was committed before it was acknowledged, so it must survive; while
the server is down ingest answers 503, and the gateway resumes without a restart.
"""

from __future__ import annotations

import asyncio
import time

from chaos.checker import Fault, Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Ledger, Load, Sender, wait_for_acks
from chaos.postgres import CrashablePostgres
from chaos.scenarios.database_outage import _hold_outage
from chaos.sizes import Size


async def database_kill_9(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict("PostgreSQL kill -9 and crash recovery under load")
    began = time.monotonic()
    postgres = CrashablePostgres()
    lab.others.append(postgres)
    url = await postgres.start()
    every = await lab.recorder("every", latency=0.01)
    orders = await lab.recorder("orders", latency=0.01, event_types=["orders/*"])
    gateway = lab.gateway(gateway_config(url), "pgcrash")
    await lab.start(gateway)
    pid = gateway.pid
    for recorder in (every, orders):
        await lab.subscribe(gateway, recorder, name=recorder.name)
    ledger = Ledger()
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        load = Load(sender, "pgkill", rate=size.rate, senders=size.senders).start()
        try:
            await wait_for_acks(ledger, 20, time.monotonic(), 30)
            await asyncio.sleep(1.0)
            killed = time.monotonic()
            verdict.figures["postgres_processes_killed"] = await asyncio.to_thread(postgres.kill)
            await asyncio.sleep(size.postgres_down)
            cleared = time.monotonic()
            verdict.figures["postgres_restart_s"] = round(await postgres.restart(), 2)
            back = time.monotonic()
            await wait_for_acks(ledger, 20, cleared, 60)
            await asyncio.sleep(1.0)
        finally:
            await load.stop()
    verdict.faults.append(Fault("PostgreSQL kill -9", killed, cleared, back=back))
    _hold_outage(verdict, ledger.answers, killed, cleared)
    if gateway.proc is None or gateway.proc.poll() is not None or gateway.pid != pid:
        verdict.fail("the gateway did not survive the crash in the same process")
    await check(verdict, url, ledger, [every, orders])
    verdict.seconds = time.monotonic() - began
    return verdict
