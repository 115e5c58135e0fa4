"""A subscriber endpoint on loopback: answers every POST, optionally fails first.

    python bench/sink.py --port 9000 --verbose      # print what arrives
    python bench/sink.py --port 9000 --fail 3       # answer 500 three times, then 200

Used by the README walkthrough and by the benchmark harness (where it counts and
timestamps what it receives, and writes that to --record on exit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time

from aiohttp import web


class Sink:
    def __init__(self, fail: int, verbose: bool) -> None:
        self.fail = fail
        self.verbose = verbose
        self.count = 0
        self.arrivals: list[tuple[str, float]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.count += 1
        self.arrivals.append((request.headers.get("webhook-id", ""), time.time()))
        status = 500 if self.count <= self.fail else 200
        if self.verbose:
            shown = {
                k: v
                for k, v in request.headers.items()
                if k.lower().startswith(("webhook-", "x-gateway", "content-type"))
            }
            print(f"--> {request.method} {request.path} answered {status}", flush=True)
            for key, value in shown.items():
                print(f"    {key}: {value}", flush=True)
            print(f"    body: {body.decode('utf-8', 'replace')[:500]}", flush=True)
        return web.Response(status=status, text="ok" if status == 200 else "failing")


async def main(args: argparse.Namespace) -> None:
    sink = Sink(args.fail, args.verbose)
    app = web.Application()
    app.router.add_post("/{tail:.*}", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=2048).start()
    print(f"sink listening on http://127.0.0.1:{args.port}/hook", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    if args.record:
        with open(args.record, "w") as fh:
            json.dump({"count": sink.count, "arrivals": sink.arrivals}, fh)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--fail", type=int, default=0, help="answer 500 to the first N requests")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--record", help="write arrivals (webhook-id, unix time) here on exit")
    arguments = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(arguments))
    except ImportError:
        asyncio.run(main(arguments))
