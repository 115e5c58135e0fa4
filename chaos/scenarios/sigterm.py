"""Scenario 6: SIGTERM under load.

The gateway must stop accepting connections, answer the requests it already read,
commit the batch in hand, let in-flight deliveries finish within the grace period and
give back the claims it did not attempt, then exit 0 — within the grace period, with
nothing lost. A new process on the same database delivers whatever was left pending.
"""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg

from chaos.checker import Fault, Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Ledger, Load, Sender, wait_for_acks
from chaos.sizes import Size

GRACE = 3.0  # [delivery] grace_seconds
SHUTDOWN_MARGIN = 5.0  # the listener's own shutdown and the final writes


async def sigterm_under_load(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict("SIGTERM under load")
    began = time.monotonic()
    url = await lab.database()
    every = await lab.recorder("every", latency=0.05)
    orders = await lab.recorder("orders", latency=0.05, event_types=["orders/*"])
    config = gateway_config(url, delivery={"grace_seconds": GRACE}, log={"level": "INFO"})
    gateway = lab.gateway(config, "term")
    await lab.start(gateway)
    for recorder in (every, orders):
        await lab.subscribe(gateway, recorder, name=recorder.name)
    ledger = Ledger()
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        load = Load(sender, "term", rate=size.rate, senders=size.senders).start()
        try:
            await wait_for_acks(ledger, 20, time.monotonic(), 30)
            await asyncio.sleep(size.sigterm_load)
            verdict.figures["deliveries_in_progress_at_sigterm"] = len(every.active) + len(
                orders.active
            )
            signalled = time.monotonic()
            stopping = asyncio.create_task(lab.stop(gateway, signal.SIGTERM))
            refused = await _refused_after(gateway.ingress_port, signalled, 30)
            code = await stopping
            exited = time.monotonic()
            logs = gateway.logs()
            in_flight = await _in_flight(url)
            cleared = time.monotonic()
            await lab.start(gateway)
            back = time.monotonic()
            await wait_for_acks(ledger, 20, back, 30)
        finally:
            await load.stop()
    verdict.faults.append(Fault("SIGTERM and restart", signalled, cleared, back=back))
    verdict.figures["exit_code"] = code
    verdict.figures["stopped_accepting_after_s"] = refused
    verdict.figures["exited_after_s"] = round(exited - signalled, 2)
    verdict.figures["in_flight_after_exit"] = in_flight
    unanswered = [
        a for a in ledger.answers if a.status is None and signalled <= a.answered_at <= exited
    ]
    refused_now = [a for a in unanswered if (a.error or "").startswith("ClientConnectorError")]
    verdict.figures["connections_refused_during_shutdown"] = len(refused_now)
    verdict.figures["requests_cut_during_shutdown"] = len(unanswered) - len(refused_now)
    if code != 0:
        verdict.fail(f"exit code {code} after SIGTERM")
    if exited - signalled > GRACE + SHUTDOWN_MARGIN:
        verdict.fail(f"took {exited - signalled:.1f} s to exit (grace {GRACE} s)")
    if in_flight:
        verdict.fail(f"{in_flight} deliveries left in_flight by a clean shutdown")
    if '"msg":"stopped"' not in logs:
        verdict.fail("no 'stopped' in the log")
    if "Traceback" in logs:
        verdict.fail("a traceback in the log: " + logs[logs.index("Traceback") :][:2000])
    await check(verdict, url, ledger, [every, orders])
    verdict.seconds = time.monotonic() - began
    return verdict


async def _refused_after(port: int, since: float, limit: float) -> float | None:
    """Seconds after ``since`` until a new connection to ``port`` is refused."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        except (OSError, TimeoutError):
            return round(time.monotonic() - since, 3)
        writer.close()
        await asyncio.sleep(0.01)
    return None


async def _in_flight(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'in_flight'")
        )
    finally:
        await conn.close()
