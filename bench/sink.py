"""A subscriber endpoint on loopback: answers every POST, optionally fails first.

    python bench/sink.py --port 9000 --verbose      # print what arrives
    python bench/sink.py --port 9000 --fail 3       # answer 500 three times, then 200

The README walkthrough's subscriber: the test kit's loopback subscriber
(testkit/sinks.py) on a port of your choosing, printing what it answers. With
``--record`` it writes what arrived (webhook-id, unix time) to a file on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.sinks import Sink


class Printer:
    """Answers 500 to the first ``fail`` requests, then 200; prints each if ``verbose``."""

    def __init__(self, fail: int, verbose: bool) -> None:
        self.fail = fail
        self.verbose = verbose
        self.arrivals: list[tuple[str, float]] = []

    async def answer(self, request: web.Request, n: int) -> web.StreamResponse:
        self.arrivals.append((request.headers.get("webhook-id", ""), time.time()))
        status = 500 if n <= self.fail else 200
        if self.verbose:
            shown = {
                k: v
                for k, v in request.headers.items()
                if k.lower().startswith(("webhook-", "x-gateway", "content-type"))
            }
            print(f"--> {request.method} {request.path} answered {status}", flush=True)
            for key, value in shown.items():
                print(f"    {key}: {value}", flush=True)
            body = await request.read()
            print(f"    body: {body.decode('utf-8', 'replace')[:500]}", flush=True)
        return web.Response(status=status, text="ok" if status == 200 else "failing")


async def main(args: argparse.Namespace) -> None:
    printer = Printer(args.fail, args.verbose)
    sink = await Sink(behaviour=printer.answer, port=args.port, backlog=2048).start()
    print(f"sink listening on {sink.url}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sink.stop()
    if args.record:
        with open(args.record, "w") as fh:
            json.dump({"count": len(printer.arrivals), "arrivals": printer.arrivals}, fh)


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
