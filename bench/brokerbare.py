"""Baseline R: a bare aio-pika publisher, with nothing of the gateway in it.

    python -m bench.brokerbare --url AMQP_URL --queue Q --requests F --count N --concurrency C

Publishes ``count`` of the request file's bodies into ``queue`` through the default
exchange, as the gateway publishes a delivery: persistent, ``mandatory``, on a channel
with publisher confirms, each one awaited, at most ``concurrency`` unconfirmed at once,
with the headers a consumer needs (an id, a type, a timestamp, a signature's length).
Done means every message confirmed by the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import time
from pathlib import Path

import aio_pika
import uvloop

from bench.payloads import read_requests


async def publish(url: str, queue: str, bodies: list[bytes], count: int, concurrency: int) -> float:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True)
        signature = "v1," + base64.b64encode(os.urandom(32)).decode()
        room = asyncio.Semaphore(concurrency)
        ids = itertools.count()

        async def one(body: bytes) -> None:
            try:
                n = next(ids)
                message = aio_pika.Message(
                    body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=f"evt_bare{n}",
                    headers={
                        "webhook-id": f"evt_bare{n}",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": signature,
                        "x-gateway-source": "shop",
                        "x-gateway-event-type": "orders/create",
                    },
                )
                await channel.default_exchange.publish(message, routing_key=queue, mandatory=True)
            finally:
                room.release()

        started = time.monotonic()
        tasks = []
        for i in range(count):
            await room.acquire()
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    bodies = [signed.body for signed in read_requests(args.requests)]
    seconds = uvloop.run(publish(args.url, args.queue, bodies, args.count, args.concurrency))
    print(f"{args.count} confirmed in {seconds:.2f}s: {args.count / seconds:.0f}/s", flush=True)


if __name__ == "__main__":
    main()
