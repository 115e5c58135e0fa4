"""Workload 8, second part: an SQS source's ingest rate, against a bare consumer.

The queue is an SQS emulator's (moto's server on loopback; production is Amazon's). A
paced producer keeps it at most ``DEPTH`` messages deep, since the emulator's cost per
call grows with the queue's depth; each message is an SP-API notification of its own.
The gateway (``--role ingress``, an ``amazon-sp-api`` source, ``max_in_flight`` 10)
stores each message and deletes it after the COMMIT; the rate is its ``stored`` count
over the window after a warm-up. Baseline Q receives 10 at a time and deletes them, as
many polls at once as the gateway has, storing nothing: the emulator's own ceiling.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.common import Context, cpu_per
from bench.report import Row
from testkit.amazon import sp_api_notification
from testkit.consumers import sqs_queue
from testkit.scrape import parse
from testkit.sqs import SQS_CREDENTIALS, SqsServer

DEPTH = 100
IN_FLIGHT = 10
_STOP_SECONDS = 5.0
_CLIENT = AioConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})


def sqs_source(ctx: Context) -> list[Row]:
    p = ctx.params
    seconds = 3.0 if p.smoke else 20.0
    os.environ.update(SQS_CREDENTIALS)  # the emulator's, read through the AWS chain
    ctx.log("workload 8: an SQS source's ingest, from moto's server")
    server = SqsServer()
    try:
        gw = _gateway(ctx, server, seconds)
        ctx.log("workload 8: baseline Q receives and deletes")
        base = _bare(ctx, server, seconds)
    finally:
        server.close()
    ctx.results["w8"] = {**ctx.results.get("w8", {}), "sqs_gateway": gw, "sqs_baseline_q": base}
    return [
        Row(8, "SQS source: messages stored (emulator)", "msg/s", gw["rate"], base["rate"], "Q"),
        # Q shares its process with the producer: its CPU is not its own.
        Row(8, "  CPU per message stored (server + PostgreSQL)", "us",
            cpu_per(gw["cpu_cores"], gw["rate"]), None, ""),
    ]  # fmt: skip


def _gateway(ctx: Context, server: SqsServer, seconds: float) -> dict[str, Any]:
    url = ctx.database("bench_w8s")
    queue = ctx.server.run(sqs_queue(server, "gateway"))
    config = {
        "brokers": [
            {"name": "aws", "kind": "sqs", "region": server.region,
             "endpoint_url": server.endpoint_url},
        ],
        "sources": [
            {"name": "amazon", "scheme": "amazon-sp-api",
             "receive": {"kind": "sqs", "broker": "aws", "queue_url": queue,
                         "max_in_flight": IN_FLIGHT, "wait_seconds": 1}},
        ],
    }  # fmt: skip
    gateway = ctx.gateway("w8s-ingress", url, "ingress", extra=config)
    metrics = f"{gateway.admin}/metrics"

    async def stored() -> int:
        text = await asyncio.to_thread(_get, metrics)
        return int(parse(text).value("gateway_source_messages_total", source="amazon",
                                     outcome="stored"))  # fmt: skip

    try:
        measured = _measure(ctx, server, queue, stored, seconds, gateway.pid)
    finally:
        gateway.stop()
    ctx.log(f"  {measured['rate']:.0f} messages/s; cores used: {measured['cpu_cores']}")
    return measured


def _bare(ctx: Context, server: SqsServer, seconds: float) -> dict[str, Any]:
    queue = ctx.server.run(sqs_queue(server, "bare"))
    done = [0]

    async def consume(sqs: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            got = await sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1)  # fmt: skip
            messages = got.get("Messages", [])
            if messages:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                           for i, m in enumerate(messages)]  # fmt: skip
                await sqs.delete_message_batch(QueueUrl=queue, Entries=entries)
                done[0] += len(messages)

    async def stored() -> int:
        return done[0]

    measured = _measure(ctx, server, queue, stored, seconds, server.process.pid, consume)
    ctx.log(f"  {measured['rate']:.0f} messages/s; cores used: {measured['cpu_cores']}")
    return measured


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
        return str(answer.read().decode())


def _measure(
    ctx: Context,
    server: SqsServer,
    queue: str,
    stored: Callable[[], Awaitable[int]],
    seconds: float,
    pid: int,
    consumer: Callable[[Any, asyncio.Event], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Produce (at most ``DEPTH`` ahead of what is stored) and consume for a warm-up and
    ``seconds``; the stored rate over that window and the cores used meanwhile."""
    result: dict[str, Any] = {}

    async def run() -> None:
        async with get_session().create_client(
            "sqs", region_name=server.region, endpoint_url=server.endpoint_url, config=_CLIENT
        ) as sqs:
            stop = asyncio.Event()
            sent, seen = [0], [0]

            async def produce() -> None:
                while not stop.is_set():
                    if sent[0] - seen[0] >= DEPTH:
                        await asyncio.sleep(0.005)
                        continue
                    first = sent[0]
                    sent[0] += 10
                    entries = [{"Id": str(i), "MessageBody":
                                sp_api_notification(f"bench-{first + i}").decode()}
                               for i in range(10)]  # fmt: skip
                    await sqs.send_message_batch(QueueUrl=queue, Entries=entries)

            async def follow() -> None:
                while not stop.is_set():
                    seen[0] = await stored()
                    await asyncio.sleep(0.05)

            tasks = [asyncio.create_task(produce()) for _ in range(2)]
            tasks.append(asyncio.create_task(follow()))
            if consumer is not None:
                tasks += [asyncio.create_task(consumer(sqs, stop)) for _ in range(IN_FLIGHT // 10)]
            await asyncio.sleep(2.0 if ctx.params.smoke else 5.0)
            with ctx.cpu(server=pid) as cpu:
                before, started = await stored(), time.monotonic()
                await asyncio.sleep(seconds)
                after, ended = await stored(), time.monotonic()
            stop.set()
            _, late = await asyncio.wait(tasks, timeout=_STOP_SECONDS)
            for task in late:  # a call the emulator never answered
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            result.update(
                rate=(after - before) / (ended - started), stored=after - before,
                cpu_cores=cpu.cores,
            )  # fmt: skip

    ctx.server.run(run())
    return result
