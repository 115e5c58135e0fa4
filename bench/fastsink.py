"""The harness's subscriber: a lean HTTP/1.1 keep-alive server that timestamps receipts.

    python -m bench.fastsink --port 9100

Every ``POST`` is answered ``200 ok`` and recorded as (``webhook-id``, path, the
CLOCK_MONOTONIC time the request was complete), so end-to-end latency can be measured
against the senders' clocks on the same machine. Written on bare asyncio protocols (no
framework) so the sink costs as little CPU as possible: on a small machine it shares
the cores with the gateway and the baselines, and it is the same for both.

Control endpoints: ``GET /_stats`` (count, first and last receipt, expected ids still
missing), ``GET /_arrivals`` (every receipt as ``[webhook-id, path, time]``),
``POST /_expect`` (``{"ids": [...], "paths": ["/a", "/b"]}``: count the ids that have not
yet arrived on every path), ``POST /_reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

import orjson

from bench.http1 import read_head

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.arrivals: list[tuple[str, str, float]] = []
        self.expected: dict[str, set[str]] = {}  # webhook id -> paths still to come
        self.missing = 0  # expected ids with a path still to come

    def record(self, webhook_id: str, path: str, at: float) -> None:
        self.arrivals.append((webhook_id, path, at))
        waiting = self.expected.get(webhook_id)
        if waiting and path in waiting:
            waiting.discard(path)
            if not waiting:
                self.missing -= 1

    def expect(self, ids: list[str], paths: list[str]) -> None:
        """From now on count how many of ``ids`` have not yet arrived on every path."""
        self.expected = {i: set(paths) for i in ids}
        for webhook_id, path, _ in self.arrivals:
            self.expected.get(webhook_id, set()).discard(path)
        self.missing = sum(1 for waiting in self.expected.values() if waiting)

    def stats(self) -> dict[str, object]:
        first = self.arrivals[0][2] if self.arrivals else None
        last = self.arrivals[-1][2] if self.arrivals else None
        return {"count": len(self.arrivals), "first": first, "last": last, "missing": self.missing}


class SinkProtocol(asyncio.Protocol):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._one():
            pass

    def _one(self) -> bool:
        """Handle one complete request from the buffer; False if more bytes are needed."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        start, fields = read_head(self.buffer, end)
        if b"transfer-encoding" in fields:
            self._reply(_BAD)
            return False
        length = int(fields.get(b"content-length", 0))
        webhook_id = fields.get(b"webhook-id", b"")
        if len(self.buffer) < end + 4 + length:
            return False
        received = time.monotonic()
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        method, path, *_ = [*start.split(b" "), b"", b""]
        if path.startswith(b"/_"):
            self._control(method, path, body)
        else:
            self.recorder.record(webhook_id.decode(), path.decode(), received)
            self._reply(_OK)
        return True

    def _control(self, method: bytes, path: bytes, request: bytes) -> None:
        if path == b"/_stats":
            body = orjson.dumps(self.recorder.stats())
        elif path == b"/_arrivals":
            body = orjson.dumps(self.recorder.arrivals)
        elif path == b"/_expect" and method == b"POST":
            expect = orjson.loads(request)
            self.recorder.expect(expect["ids"], expect["paths"])
            body = orjson.dumps(self.recorder.stats())
        elif path == b"/_reset" and method == b"POST":
            self.recorder.reset()
            body = b"{}"
        else:
            self._reply(_BAD)
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        self._reply(head % len(body) + body)

    def _reply(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if data is _BAD:
            self.transport.close()
            self.transport = None


async def main(port: int) -> None:
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SinkProtocol(recorder), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    print(f"sink listening on http://127.0.0.1:{port}/", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    import uvloop

    uvloop.run(main(parser.parse_args().port))
