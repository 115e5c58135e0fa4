"""Scenario 4: three replicas on one database; one is killed in the middle of deliveries.

Each replica sends with its own ``User-Agent``, so the subscribers know who attempted
what. The deliveries the killed replica was sending when it died are leased to it; after
the lease they must be taken over by the two others, and no delivery may ever be
attempted by two replicas at once (the recorders and the attempt log both check).
"""

from __future__ import annotations

import asyncio
import time

from chaos.checker import Fault, Verdict, check
from chaos.lab import Lab, gateway_config
from chaos.load import Ledger, Load, Sender, wait_for_acks
from chaos.sizes import Size
from chaos.subscribers import Recorder
from testkit.polling import became

REPLICAS = 3


async def replica_kill_9(lab: Lab, size: Size) -> Verdict:
    verdict = Verdict(f"{REPLICAS} replicas, one killed mid-delivery")
    began = time.monotonic()
    url = await lab.database()
    # Each delivery takes half a second to answer, so what the victim is sending when it is
    # killed is still unanswered when the kill lands: orphaned for sure.
    every = await lab.recorder("every", latency=0.5)
    orders = await lab.recorder("orders", latency=0.5, event_types=["orders/*"])
    replicas = [
        lab.gateway(gateway_config(url, delivery={"user_agent": f"replica-{i}"}), f"replica{i}")
        for i in range(REPLICAS)
    ]
    await asyncio.gather(*(lab.start(r) for r in replicas))
    for recorder in (every, orders):
        await lab.subscribe(replicas[0], recorder, name=recorder.name)
    victim = replicas[0]
    agent = "replica-0/"
    ledger = Ledger()
    async with Sender(ledger, [r.ingress for r in replicas], connections=size.senders) as sender:
        load = Load(sender, "replica", rate=size.rate, senders=size.senders).start()
        try:
            await wait_for_acks(ledger, 20, time.monotonic(), 30)
            await asyncio.sleep(size.replica_load)
            await became(lambda: len(_answering(agent, every, orders)) >= 3, 10, 0.02)
            orphans = _answering(agent, every, orders)
            killed = time.monotonic()
            await lab.kill(victim)
            await asyncio.sleep(size.replica_load)
        finally:
            await load.stop()
    verdict.faults.append(Fault("replica kill -9", killed, killed))
    await check(verdict, url, ledger, [every, orders])
    _hold_takeover(verdict, orphans, [every, orders], agent, killed)
    verdict.figures["attempts_by_replica"] = _by_replica([every, orders])
    verdict.seconds = time.monotonic() - began
    return verdict


def _answering(agent: str, *recorders: Recorder) -> set[tuple[str, str]]:
    """(recorder, webhook-id) pairs that a replica is sending right now."""
    return {
        (r.name, wid)
        for r in recorders
        for wid, agents in r.agents_answering().items()
        if any(a.startswith(agent) for a in agents)
    }


def _hold_takeover(
    verdict: Verdict,
    orphans: set[tuple[str, str]],
    recorders: list[Recorder],
    agent: str,
    killed: float,
) -> None:
    """Every delivery the dead replica was sending arrived again, from another replica."""
    by_name = {r.name: r for r in recorders}
    taken: list[float] = []
    missing = []
    for name, wid in sorted(orphans):
        later = [
            a.at
            for a in by_name[name].arrivals
            if a.webhook_id == wid and a.at > killed and not a.agent.startswith(agent)
        ]
        if later:
            taken.append(min(later) - killed)
        else:
            missing.append(f"{name}:{wid}")
    verdict.figures["deliveries_in_progress_on_the_killed_replica"] = len(orphans)
    if taken:
        verdict.figures["taken_over_after_s"] = [round(min(taken), 2), round(max(taken), 2)]
    if not orphans:
        verdict.fail("the killed replica was not sending anything: nothing to take over")
    verdict.fail("deliveries of the killed replica never taken over by another", missing)


def _by_replica(recorders: list[Recorder]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in recorders:
        for a in r.arrivals:
            name = a.agent.split("/", 1)[0]
            counts[name] = counts.get(name, 0) + 1
    return counts
