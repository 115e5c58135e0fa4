"""Baselines: the bare aiohttp + uvloop stack, with nothing of the gateway in it.

    python -m bench.bare server --port 9200                 # baseline A
    python -m bench.bare server --port 9200 --forward URL…  # A then B: a bare relay
    python -m bench.bare client --requests F --url URL --count N --concurrency C  # B

Baseline A reads the body and answers 202 with an ``event_id`` (as the gateway does, so
the same generators can measure both). With ``--forward`` it also posts the body to
each URL after answering, holding nothing durably: the floor for end-to-end latency.
Baseline B posts the same bodies to the same sink with the same concurrency as the
gateway's dispatcher, through one pooled keep-alive ``ClientSession``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import uvloop
from aiohttp import web

from bench.payloads import read_requests


async def serve(port: int, forward: list[str], concurrency: int) -> None:
    ids = itertools.count()
    session: aiohttp.ClientSession | None = None
    tasks: set[asyncio.Task[None]] = set()
    if forward:
        connector = aiohttp.TCPConnector(limit=concurrency * len(forward))
        session = aiohttp.ClientSession(connector=connector)

    async def relay(event_id: str, body: bytes, content_type: str) -> None:
        assert session is not None
        headers = {"Content-Type": content_type, "webhook-id": event_id}
        for url in forward:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        event_id = f"evt_bare{next(ids)}"
        if session is not None:
            task = asyncio.create_task(relay(event_id, body, request.content_type))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        payload = orjson.dumps({"event_id": event_id, "duplicate": False})
        return web.Response(status=202, body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True).start()
    print(f"baseline listening on http://127.0.0.1:{port}/", file=sys.stderr, flush=True)
    await _until_signal()
    await runner.cleanup()
    if session is not None:
        await session.close()


async def post_all(url: str, requests: Path, count: int, concurrency: int) -> None:
    signed = read_requests(requests)
    next_index = itertools.count()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while (i := next(next_index)) < count:
                body = signed[i % len(signed)].body
                headers = {"Content-Type": "application/json", "webhook-id": f"bare{i}"}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    print(orjson.dumps({"count": count, "seconds": elapsed}).decode(), flush=True)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    server = sub.add_parser("server")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--forward", nargs="*", default=[])
    server.add_argument("--concurrency", type=int, default=64)
    client = sub.add_parser("client")
    client.add_argument("--url", required=True)
    client.add_argument("--requests", type=Path, required=True)
    client.add_argument("--count", type=int, required=True)
    client.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if args.mode == "server":
        uvloop.run(serve(args.port, args.forward, args.concurrency))
    else:
        uvloop.run(post_all(args.url, args.requests, args.count, args.concurrency))


if __name__ == "__main__":
    main()
