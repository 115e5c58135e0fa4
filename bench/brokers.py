"""Workload 8: a backlog drained into RabbitMQ, against a bare aio-pika publisher.

The backlog is workload 3's (stored in SQL, two subscribers), with both subscribers
publishing into one durable queue of a real RabbitMQ (``testkit/rabbitmq.py``) instead of
posting to the sink. A delivery is done when the broker confirmed it; the harness watches
the queue's depth from outside and takes the rate between the first message and the last.
Baseline R (``bench/brokerbare.py``) publishes the same number of the same bodies into a
queue of its own the same way (persistent, mandatory, confirmed, the gateway's delivery
concurrency at most unconfirmed), watched the same way.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import aio_pika

from bench import db
from bench.common import Context, cpu_per
from bench.payloads import read_requests
from bench.procs import PYTHON, Child
from bench.report import Row
from testkit.consumers import declare_queue
from testkit.rabbitmq import RabbitMQ

BROKER = "bench"
_POLL_SECONDS = 0.05


def rabbitmq(ctx: Context) -> list[Row]:
    p = ctx.params
    ctx.log("workload 8: starting RabbitMQ")
    broker = RabbitMQ()
    try:
        url = ctx.database("bench_w8")
        ctx.log(f"workload 8: storing {p.backlog // 2} events = {p.backlog} pending deliveries")
        seeded = ctx.server.run(db.seed(url, p.backlog // 2, read_requests(ctx.requests_file)))
        destination = {"kind": "amqp", "broker": BROKER, "routing_key": "gateway"}
        ctx.server.run(db.set_destination(url, destination))
        gw = _gateway_drain(ctx, broker, url, seeded["pending"])
        ctx.log(f"workload 8: baseline R publishes {seeded['pending']} messages")
        base = _bare_publisher(ctx, broker, seeded["pending"])
    finally:
        broker.close()
    ctx.results["w8"] = {"seeded": seeded, "gateway": gw, "baseline_r": base}
    return [
        Row(8, f"drain {seeded['pending']:,} deliveries into RabbitMQ", "deliv/s", gw["rate"],
            base["rate"], "R", ">= 0.5 x R", ratio_goal=0.5),
        Row(8, "  messages in the queue at the end", "count", gw["depth"], base["depth"], "R"),
        Row(8, "  CPU per delivery (server + PostgreSQL; R: publisher)", "us",
            cpu_per(gw["cpu_cores"], gw["rate"]),
            cpu_per(base["cpu_cores"], base["rate"], ("generator",)), "R"),
        Row(8, "  RabbitMQ's CPU per message", "us",
            cpu_per(gw["cpu_cores"], gw["rate"], ("broker",)),
            cpu_per(base["cpu_cores"], base["rate"], ("broker",)), "R"),
    ]  # fmt: skip


def _gateway_drain(ctx: Context, broker: RabbitMQ, url: str, pending: int) -> dict[str, Any]:
    ctx.server.run(declare_queue(broker.url, "gateway"))
    config = {"brokers": [{"name": BROKER, "kind": "amqp", "url": broker.url}]}
    gateway = ctx.gateway("w8-worker", url, "worker", extra=config)
    try:
        assert broker.process is not None
        with ctx.cpu(server=gateway.pid, broker=broker.process.pid) as cpu:
            watched = ctx.server.run(
                _watch(broker.url, "gateway", pending, ctx.params.drain_timeout)
            )
    finally:
        gateway.stop()
    ctx.log(f"  {watched['rate']:.0f} deliveries/s; cores used: {cpu.cores}")
    return {**watched, "cpu_cores": cpu.cores}


def _bare_publisher(ctx: Context, broker: RabbitMQ, count: int) -> dict[str, Any]:
    ctx.server.run(declare_queue(broker.url, "bare"))
    args = ["--url", broker.url, "--queue", "bare", "--requests", str(ctx.requests_file)]
    args += ["--count", str(count), "--concurrency", str(ctx.params.delivery("concurrency"))]
    assert broker.process is not None
    with ctx.cpu(broker=broker.process.pid) as cpu:
        child = Child([PYTHON, "-m", "bench.brokerbare", *args], ctx.workdir / "bare-rabbit.log")
        try:
            watched = ctx.server.run(_watch(broker.url, "bare", count, ctx.params.drain_timeout))
            child.proc.wait(ctx.params.drain_timeout)
        except subprocess.TimeoutExpired:
            child.stop()
    ctx.log(f"  {watched['rate']:.0f} messages/s; cores used: {cpu.cores}")
    return {**watched, "cpu_cores": cpu.cores}


async def _watch(url: str, queue: str, target: int, timeout: float) -> dict[str, Any]:
    """The queue's depth, read until it holds ``target`` messages (or ``timeout``): the
    rate between the first reading above zero and the one that reached the target."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        deadline = time.monotonic() + timeout
        first: tuple[float, int] | None = None
        depth = 0
        at = time.monotonic()
        while time.monotonic() < deadline:
            declared = await channel.declare_queue(queue, durable=True, passive=True)
            depth, at = int(declared.declaration_result.message_count or 0), time.monotonic()
            if depth and first is None:
                first = (at, depth)
            if depth >= target:
                break
            await asyncio.sleep(_POLL_SECONDS)
    if first is None or at <= first[0]:
        return {"rate": 0.0, "depth": depth, "seconds": 0.0}
    return {
        "rate": (depth - first[1]) / (at - first[0]),
        "depth": depth,
        "seconds": round(at - first[0], 2),
    }
