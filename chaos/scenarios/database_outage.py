"""Scenario 2: PostgreSQL unreachable for a while under load, then back.

A TCP fault proxy (testkit/tcpproxy.py) sits between the gateway and PostgreSQL
and drops every connection, then refuses new ones. While it does, ingest must answer
503 with Retry-After and never 2xx; when it lets connections through again the same
gateway process resumes taking and delivering events by itself.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from chaos.checker import Fault, Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Answer, Ledger, Load, Sender, wait_for_acks
from chaos.sizes import Size
from testkit.tcpproxy import FaultProxy

IN_TRANSIT = 0.25  # an answer to a commit made just before the cut may still be on its way


async def database_outage(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict(f"PostgreSQL unreachable for {size.outage:g} s under load")
    began = time.monotonic()
    url = await lab.database()
    proxy = await FaultProxy(url).start()
    lab.others.append(proxy)
    every = await lab.recorder("every", latency=0.01)
    orders = await lab.recorder("orders", latency=0.01, event_types=["orders/*"])
    gateway = lab.gateway(gateway_config(proxy.url), "outage")
    await lab.start(gateway)
    pid = gateway.pid
    for recorder in (every, orders):
        await lab.subscribe(gateway, recorder, name=recorder.name)
    ledger = Ledger()
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        load = Load(sender, "outage", rate=size.rate, senders=size.senders).start()
        try:
            await wait_for_acks(ledger, 20, time.monotonic(), 30)
            await asyncio.sleep(1.0)
            cut = time.monotonic()
            proxy.sever()
            await asyncio.sleep(size.outage / 2)
            verdict.figures["readyz_during_outage"] = await _readyz(gateway.admin)
            await asyncio.sleep(size.outage / 2)
            restored = time.monotonic()
            proxy.restore()
            await wait_for_acks(ledger, 20, restored, 60)
            await asyncio.sleep(1.0)
        finally:
            await load.stop()
    verdict.faults.append(Fault("database unreachable", cut, restored, back=restored))
    _hold_outage(verdict, ledger.answers, cut, restored)
    if gateway.proc is None or gateway.proc.poll() is not None or gateway.pid != pid:
        verdict.fail("the gateway did not survive the outage in the same process")
    await check(verdict, url, ledger, [every, orders])
    verdict.seconds = time.monotonic() - began
    return verdict


def _hold_outage(verdict: Verdict, answers: list[Answer], cut: float, restored: float) -> None:
    """Only 503 with Retry-After (or no answer) while the database was away."""
    during = [a for a in answers if cut + IN_TRANSIT < a.answered_at < restored]
    verdict.figures["answers_during_outage"] = _statuses(during)
    verdict.fail(
        "2xx while the database was unreachable",
        [f"{a.sender_id}: {a.status}" for a in during if a.ok],
    )
    verdict.fail(
        "503 without Retry-After",
        [a.sender_id for a in answers if a.status == 503 and not a.retry_after],
    )
    if not any(a.status == 503 for a in during):
        verdict.fail("no 503 was answered while the database was unreachable")


def _statuses(answers: list[Answer]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in answers:
        key = str(a.status) if a.status is not None else "no answer"
        counts[key] = counts.get(key, 0) + 1
    return counts


async def _readyz(admin: str) -> int | str:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(f"{admin}/readyz") as response,
        ):
            return response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        return type(exc).__name__
