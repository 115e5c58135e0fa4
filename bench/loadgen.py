"""Constant-rate (open-loop) load: wrk2's method, in its own process.

    python -m bench.loadgen --url http://127.0.0.1:8080/webhooks/v1/shop \
        --requests FILE --tag t1- --rate 500 --seconds 30 --out result.json

Request i is due at ``start + i / rate`` whether or not earlier ones were answered, and
its latency is counted from that due time, so a stall shows up in the percentiles
instead of silently lowering the rate (no coordinated omission). Requests go out on a
pool of keep-alive HTTP/1.1 connections (bare asyncio protocols on uvloop: the generator
must cost little CPU); a new connection is opened whenever none is idle, up to
``--connections``; beyond that a request waits for one, and the wait counts. Like a
sender, the generator gives up on a request ``--timeout`` seconds after its due time:
counted ``not-sent`` if no connection was free by then, ``timeout`` if sent unanswered.

The output JSON has the status histogram (``503+retry-after`` when the 503 carried
Retry-After; ``timeout``, ``error``), every latency, and per 2xx answer the
``event_id`` with the CLOCK_MONOTONIC time the request was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from bench.http1 import read_head
from bench.payloads import headers, read_requests


class Timeout(Exception):
    pass


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool, bytes]] | None = None
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        start, fields = read_head(self.buffer, end)
        length = int(fields.get(b"content-length", 0))
        retry_after = b"retry-after" in fields
        close = fields.get(b"connection", b"").lower() == b"close"
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if close:
            self.open = False
        if not self.waiter.done():
            self.waiter.set_result((int(start[9:12]), retry_after, body))

    def abort(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.abort()


class Pool:
    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[Connection] = []
        self.count = 0
        self.peak = 0
        self.opened = 0
        self.waiting: collections.deque[asyncio.Future[Connection | None]] = collections.deque()

    async def acquire(self) -> Connection:
        while True:
            while self.idle:
                conn = self.idle.pop()
                if conn.open:
                    return conn
                self.count -= 1
            if self.count < self.limit:
                self.count += 1
                self.opened += 1
                self.peak = max(self.peak, self.count)
                try:
                    _, conn = await asyncio.get_running_loop().create_connection(
                        Connection, self.host, self.port
                    )
                except BaseException:  # refused, or the sender gave up waiting
                    self.count -= 1
                    raise
                return conn
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:  # gave up; a connection handed meanwhile goes back
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self.release(waiter.result())  # type: ignore[arg-type]
                raise
            if handed is not None and handed.open:
                return handed
            if handed is not None:
                self.count -= 1

    def release(self, conn: Connection) -> None:
        if not conn.open:
            self.count -= 1
            conn = None  # type: ignore[assignment]
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self.idle.append(conn)


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        url = urlsplit(args.url)
        self.path = url.path
        self.host_header = f"{url.hostname}:{url.port}"
        self.pool = Pool(url.hostname or "127.0.0.1", url.port or 80, args.connections)
        self.signed = read_requests(args.requests)
        self.tag = args.tag
        self.timeout = args.timeout
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.acks: list[tuple[str, float]] = []
        self.start = 0.0
        self.timeline: collections.defaultdict[int, collections.Counter[str]] = (
            collections.defaultdict(collections.Counter)
        )

    def count(self, key: str, due: float) -> None:
        """One more answer ``key`` for a request due at ``due`` (by second of the run)."""
        self.timeline[int(due - self.start)][key] += 1

    def request(self, i: int) -> bytes:
        signed = self.signed[i % len(self.signed)]
        cycle = i // len(self.signed)
        webhook_id = self.tag + signed.webhook_id + (f"-{cycle}" if cycle else "")
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers(signed, webhook_id).items()]
        lines.append(f"Content-Length: {len(signed.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + signed.body

    async def one(self, i: int, due: float) -> None:
        """Send request ``i``; like a sender, give up ``timeout`` seconds after ``due``."""
        data = self.request(i)
        try:
            async with asyncio.timeout_at(_loop_time(due + self.timeout)):
                conn = await self.pool.acquire()
        except TimeoutError:
            self.count("not-sent", due)
            return
        except OSError:
            self.count("connect-error", due)
            return
        loop = asyncio.get_running_loop()
        conn.waiter = loop.create_future()
        sent = time.monotonic()
        self.lags.append(sent - due)
        timer = loop.call_later(max(0.0, due + self.timeout - sent), _expire, conn.waiter)
        try:
            if conn.transport is None or conn.transport.is_closing():
                raise ConnectionError("connection closed")
            conn.transport.write(data)
            status, retry_after, body = await conn.waiter
        except Timeout:
            self.count("timeout", due)
            conn.abort()
            return
        except (ConnectionError, OSError):
            self.count("error", due)
            conn.abort()
            return
        finally:
            timer.cancel()
            conn.waiter = None
            self.pool.release(conn)
        answered = time.monotonic()
        self.latencies.append(latency_ms(due, sent, answered))
        key = f"{status}+retry-after" if status == 503 and retry_after else str(status)
        self.count(key, due)
        if 200 <= status < 300:
            self.acks.append((orjson.loads(body)["event_id"], sent))

    async def run(self, rate: float, seconds: float) -> dict[str, Any]:
        total = max(1, int(rate * seconds))
        tasks: set[asyncio.Task[None]] = set()
        start = self.start = time.monotonic() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        offered_seconds = time.monotonic() - start
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout + 30)
        return {
            "scheduled": total,
            "rate": rate,
            "offered_seconds": offered_seconds,
            "statuses": dict(sorted(sum(self.timeline.values(), collections.Counter()).items())),
            "unfinished": len(tasks),
            "connections": self.pool.peak,
            "connections_opened": self.pool.opened,
            "by_second": [
                dict(self.timeline[s]) for s in range(max(self.timeline, default=-1) + 1)
            ],
            "latencies_ms": self.latencies,
            "lag_ms_max": max(self.lags, default=0.0) * 1000,
            "lag_ms_p99": _percentile(self.lags, 99) * 1000,
            "acks": self.acks,
        }


def latency_ms(due: float, sent: float, answered: float) -> float:
    """A request's latency: from its due time, so that the time it waited for the
    generator (or for a connection) counts, as wrk2 counts it; from its sending when it
    went out before its due time (the generator sends up to 0.5 ms early)."""
    return (answered - min(due, sent)) * 1000


def _loop_time(monotonic: float) -> float:
    """A ``time.monotonic()`` instant on the event loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic - time.monotonic())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(Timeout())


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def main(args: argparse.Namespace) -> None:
    result = await Generator(args).run(args.rate, args.seconds)
    args.out.write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--out", type=Path, required=True)
    uvloop.run(main(parser.parse_args()))
