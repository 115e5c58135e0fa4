"""Scenario 7: a burst of duplicates — every sender event sent many times at once.

``duplicate_events`` sender events, each posted ``duplicate_copies`` times, the copies
of one event side by side so that they race through the same group commits. Exactly
one event may be stored per sender event, every copy must be answered with that one
event id (one 202, the others 200 ``duplicate``), and each subscriber must receive
each event exactly once (no crash here, so no duplicate delivery either).
"""

from __future__ import annotations

import asyncio
import time

from chaos.checker import Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Ledger, Sender
from chaos.sizes import Size


async def duplicate_burst(lab: Lab, size: Size) -> Verdict:
    events, copies = size.duplicate_events, size.duplicate_copies
    verdict = Verdict(f"{events * copies} concurrent copies of {events} sender events")
    began = time.monotonic()
    url = await lab.database()
    every = await lab.recorder("every")
    orders = await lab.recorder("orders", event_types=["orders/*"])
    gateway = lab.gateway(gateway_config(url), "dupes")
    await lab.start(gateway)
    for recorder in (every, orders):
        await lab.subscribe(gateway, recorder, name=recorder.name)
    ledger = Ledger()
    gate = asyncio.Semaphore(size.duplicate_senders)
    connections = size.duplicate_senders

    async def post(sender: Sender, n: int) -> None:
        async with gate:
            await sender.send(f"dup-{n}", n)

    async with Sender(ledger, [gateway.ingress], connections=connections) as sender:
        burst = time.monotonic()
        await asyncio.gather(*(post(sender, n) for n in range(events) for _ in range(copies)))
        verdict.figures["burst_s"] = round(time.monotonic() - burst, 2)
    await check(verdict, url, ledger, [every, orders])
    fresh: dict[str, int] = {}
    for answer in ledger.answers:
        if answer.ok and answer.duplicate is False:
            fresh[answer.sender_id] = fresh.get(answer.sender_id, 0) + 1
    verdict.figures["answered_202"] = sum(fresh.values())
    verdict.figures["answered_200_duplicate"] = sum(
        1 for a in ledger.answers if a.ok and a.duplicate
    )
    if verdict.figures.get("events_stored") != events:
        verdict.fail(f"{verdict.figures.get('events_stored')} events stored, not {events}")
    if len(ledger.acked) != events:
        verdict.fail(f"{len(ledger.acked)} sender events acknowledged, not {events}")
    verdict.fail(
        "sender events answered 202 more than once",
        sorted(s for s, n in fresh.items() if n > 1),
    )
    if verdict.duplicates:
        verdict.fail(f"{verdict.duplicates} duplicate deliveries without any crash")
    verdict.seconds = time.monotonic() - began
    return verdict
