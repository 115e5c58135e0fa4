"""What a transform costs a delivery in CPU: the gateway's process and its transform workers.

    .venv/bin/python -m bench.transform_cost [--calls 20000] [--concurrency 256] [--rounds 3]

Drives the transform engine as the dispatcher does (``transform_claimed`` on claimed
deliveries, ``--concurrency`` of them at once, a new one as each ends), two subscribers'
queues, each delivery a realistic Shopify order (bench/payloads.py, with workload 3's
headers) through ``examples/transforms/shopify-orders-create.js``, as workload 3's
transformed drain does. After its transform each delivery "sends" for a random time
(``--send-ms`` on average), so that calls come a few at a time, as they do in a drain.

Each round drives the same deliveries without a transform first (only "sending"), then
starts a fresh engine, warms it (``--warm-up`` calls) and counts the CPU time of this
process and of the engine's workers around ``--calls`` calls. Prints, per round, the CPU
microseconds a call costs this process (the event loop's side, the round without a
transform subtracted), the workers, and both; how often this process was preempted
(involuntary context switches); and the QuickJS run alone, called in this process
without the engine: the floor.

CPU time, not wall time: on a shared machine it moves far less with the others' load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil
import uvloop

from bench.db import _HEADERS
from bench.payloads import generate
from gateway.delivery.transformed import transform_claimed
from gateway.delivery.transforms import Bounds, Reshaped, TransformEngine
from gateway.delivery.transforms.sandbox import run
from gateway.domain.document import event_document
from gateway.domain.transform import Transform
from gateway.store.records import ClaimedDelivery
from testkit.factories import claimed_delivery

EXAMPLE = Path(__file__).parent.parent / "examples" / "transforms" / "shopify-orders-create.js"
HEADERS: dict[str, str] = orjson.loads(_HEADERS)


def _deliveries(count: int, transform: Transform) -> list[ClaimedDelivery]:
    now = datetime.now(UTC)
    return [
        claimed_delivery(
            now,
            id=f"dlv_{n}",
            event_id=f"evt_{n}",
            subscriber_id=f"sub_{n % 2}",
            subscriber_name=f"warehouse-{'ab'[n % 2]}",
            body=signed.body,
            event_headers=HEADERS,
            transform=transform,
        )
        for n, signed in enumerate(generate(count // 2 + 1))
        for _ in range(2)
    ][:count]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


async def _deliver(engine: TransformEngine | None, claimed: ClaimedDelivery, send: float) -> None:
    if engine is not None:
        assert isinstance(await transform_claimed(engine, claimed), Reshaped)
    await asyncio.sleep(send)


async def _drive(
    engine: TransformEngine | None,
    deliveries: list[ClaimedDelivery],
    calls: int,
    concurrency: int,
    send_ms: float,
) -> None:
    """``calls`` deliveries, ``concurrency`` at a time; each then "sends" for a random
    time of mean ``send_ms`` (so that, as in the dispatcher, calls come a few at a time)."""
    feed = itertools.islice(itertools.cycle(deliveries), calls)
    rng = random.Random(7)
    done = asyncio.Event()
    left = calls
    running = 0

    def start() -> None:
        nonlocal running
        for claimed in feed:
            running += 1
            send = rng.uniform(0, 2 * send_ms / 1000)
            task = asyncio.get_running_loop().create_task(_deliver(engine, claimed, send))
            task.add_done_callback(finished)
            if running >= concurrency:
                return

    def finished(task: asyncio.Task[Any]) -> None:
        nonlocal left, running
        task.result()
        left -= 1
        running -= 1
        if left == 0:
            done.set()
        else:
            start()

    start()
    await done.wait()


async def _cpu_of(
    engine: TransformEngine | None, deliveries: list[ClaimedDelivery], args: argparse.Namespace
) -> dict[str, float]:
    """This process's and the workers' CPU seconds of a drive, its wall seconds and the
    times this process was preempted."""
    await _drive(engine, deliveries, args.warm_up, args.concurrency, args.send_ms)
    pids = engine.worker_pids() if engine else []
    me = psutil.Process()
    before = me.cpu_times(), _cpu(pids), me.num_ctx_switches().involuntary
    started = time.perf_counter()
    await _drive(engine, deliveries, args.calls, args.concurrency, args.send_ms)
    wall = time.perf_counter() - started
    after = me.cpu_times(), _cpu(pids), me.num_ctx_switches().involuntary
    if engine is not None:
        assert engine.worker_pids() == pids, "a worker was replaced during the round"
    return {
        "main": sum(after[0][:2]) - sum(before[0][:2]),
        "workers": after[1] - before[1],
        "wall": wall,
        "preempted": after[2] - before[2],
    }


async def _round(deliveries: list[ClaimedDelivery], args: argparse.Namespace) -> dict[str, float]:
    bare = await _cpu_of(None, deliveries, args)
    engine = TransformEngine(workers=args.workers)
    try:
        ran = await _cpu_of(engine, deliveries, args)
    finally:
        await engine.close()
    per = 1e6 / args.calls
    main = ran["main"] - bare["main"]
    return {
        "main_us": main * per,
        "workers_us": ran["workers"] * per,
        "total_us": (main + ran["workers"]) * per,
        "calls_per_s": args.calls / ran["wall"],
        "preempted": ran["preempted"] * 1000 / args.calls,
    }


@dataclasses.dataclass(frozen=True, slots=True)
class _Event:
    id: str
    source: str
    event_type: str | None
    headers: dict[str, str]
    body: bytes
    body_view: Any = None


def _request(claimed: ClaimedDelivery) -> bytes:
    """The request document as QuickJS reads it."""
    event = _Event(
        claimed.event_id, claimed.source, claimed.event_type, claimed.event_headers, claimed.body
    )
    return orjson.dumps(event_document(event))


def _floor(deliveries: list[ClaimedDelivery], calls: int) -> float:
    """CPU microseconds a call of the QuickJS run alone (request and context as JSON)."""
    bounds = Bounds()
    encoded = [
        (_request(c), orjson.dumps({"subscriber": c.subscriber_name, "received_at": c.received_at}))
        for c in deliveries[:1000]
    ]
    transform = deliveries[0].transform
    assert transform is not None
    for request, context in encoded[:200]:
        run(transform, request, context, bounds)
    started = time.process_time()
    for request, context in itertools.islice(itertools.cycle(encoded), calls):
        run(transform, request, context, bounds)
    return (time.process_time() - started) * 1e6 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--warm-up", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--send-ms", type=float, default=2.0)
    args = parser.parse_args()
    transform = Transform(source=EXAMPLE.read_text())
    deliveries = _deliveries(2_000, transform)
    rounds = []
    for n in range(args.rounds):
        figures = uvloop.run(_round(deliveries, args))
        rounds.append(figures)
        print(
            f"round {n + 1}: {figures['main_us']:6.1f} us a call in the gateway's process,"
            f" {figures['workers_us']:6.1f} in the workers, {figures['total_us']:6.1f} in all"
            f" ({figures['calls_per_s']:,.0f} calls/s; preempted"
            f" {figures['preempted']:.1f} times a thousand calls)",
            flush=True,
        )
    floor = _floor(deliveries, min(args.calls, 5_000))
    print(
        f"median: {statistics.median(r['main_us'] for r in rounds):.1f} us in the gateway's"
        f" process, {statistics.median(r['workers_us'] for r in rounds):.1f} in the workers,"
        f" {statistics.median(r['total_us'] for r in rounds):.1f} in all;"
        f" the QuickJS run alone {floor:.1f} us"
    )
    print(f"machine: load average {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}")


if __name__ == "__main__":
    main()
