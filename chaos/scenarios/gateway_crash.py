"""Scenario 1: ``kill -9`` of the gateway under load, several times in a row.

The load generator keeps sending (retrying, as senders do) while the gateway is killed
mid-delivery and started again on the same database and ports. Claims the dead process
held come back when their lease expires; everything acknowledged must still arrive.
"""

from __future__ import annotations

import asyncio
import time

from chaos.checker import Fault, Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Ledger, Load, Sender, wait_for_acks
from chaos.sizes import Size
from testkit.polling import became


async def gateway_kill_9(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict(f"gateway kill -9 x{size.kills} under load")
    began = time.monotonic()
    url = await lab.database()
    every = await lab.recorder("every", latency=0.02)
    orders = await lab.recorder("orders", latency=0.02, event_types=["orders/*"])
    gateway = lab.gateway(gateway_config(url), "crash")
    await lab.start(gateway)
    for recorder in (every, orders):
        await lab.subscribe(gateway, recorder, name=recorder.name)
    ledger = Ledger()
    mid_delivery = []
    async with Sender(ledger, [gateway.ingress], connections=size.senders) as sender:
        load = Load(sender, "kill", rate=size.rate, senders=size.senders).start()
        try:
            for number in range(1, size.kills + 1):
                await wait_for_acks(ledger, 10, time.monotonic(), 30)
                await asyncio.sleep(size.between_kills)
                await became(lambda: every.active or orders.active, 5, 0.02)
                mid_delivery.append(len(every.active) + len(orders.active))
                killed = time.monotonic()
                await lab.kill(gateway)
                cleared = time.monotonic()
                await lab.start(gateway)
                verdict.faults.append(
                    Fault(f"kill -9 #{number}", killed, cleared, time.monotonic())
                )
            await wait_for_acks(ledger, 10, time.monotonic(), 30)
        finally:
            await load.stop()
    verdict.figures["deliveries_in_progress_at_each_kill"] = mid_delivery
    await check(verdict, url, ledger, [every, orders])
    verdict.seconds = time.monotonic() - began
    return verdict
