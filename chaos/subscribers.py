"""Subscribers on loopback: one that records every ``webhook-id``, and ones that misbehave.

:class:`Recorder` verifies each delivery's Standard Webhooks signature, remembers when
each ``webhook-id`` arrived and from which replica (``User-Agent``), and notices a
delivery that arrives while another attempt of the same ``webhook-id`` is still being
answered (two attempts at once). The misbehaving ones hang, reset the connection,
answer slowly, or answer with a body far larger than anyone should read.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hmac
import socket
import struct
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from testkit.senders import standard_webhooks_signature
from testkit.sinks import Sink


@dataclasses.dataclass(slots=True)
class Arrival:
    webhook_id: str
    at: float  # time.monotonic()
    agent: str
    sender_id: str | None


class Recorder:
    """A healthy subscriber that answers 200 after ``latency`` seconds and records all.

    It is the kit's loopback subscriber (:class:`testkit.sinks.Sink`), answering as below.
    """

    def __init__(self, name: str, *, latency: float = 0.0, event_types: list[str] | None = None):
        self.name = name
        self.latency = latency
        self.event_types = event_types or []
        self.secret: str | None = None
        self.subscriber_id: str | None = None
        self.arrivals: list[Arrival] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.first: dict[str, float] = {}
        self.active: dict[str, list[str]] = {}  # webhook-id -> agents answering it now
        self.overlaps: list[str] = []
        self.bad_signatures: list[str] = []
        self.sink = Sink(behaviour=self._answer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sink.port}/hook/{self.name}"

    def matches(self, topic: str) -> bool:
        """Whether an event of ``topic`` is meant for this subscriber (its glob filters)."""
        return not self.event_types or any(
            topic.startswith(pattern.removesuffix("*"))
            if pattern.endswith("*")
            else topic == pattern
            for pattern in self.event_types
        )

    async def start(self) -> Recorder:
        await self.sink.start()
        return self

    async def stop(self) -> None:
        await self.sink.stop()

    def agents_answering(self) -> dict[str, list[str]]:
        return {wid: list(agents) for wid, agents in self.active.items() if agents}

    async def _answer(self, request: web.Request, n: int) -> web.StreamResponse:
        received = self.sink.received[n - 1]
        wid = request.headers.get("webhook-id", "")
        agent = request.headers.get("User-Agent", "")
        if self.active.get(wid):
            self.overlaps.append(f"{wid}: {agent} while {self.active[wid]} still answering")
        self.active.setdefault(wid, []).append(agent)
        try:
            if not self._signed(wid, request, received.body):
                self.bad_signatures.append(wid)
            self.arrivals.append(Arrival(wid, received.at, agent, _sender_id(received.body)))
            self.counts[wid] += 1
            self.first.setdefault(wid, received.at)
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.active[wid].remove(agent)
            if not self.active[wid]:
                del self.active[wid]
        return web.Response(text="ok")

    def _signed(self, wid: str, request: web.Request, body: bytes) -> bool:
        if self.secret is None:
            return True
        timestamp = request.headers.get("webhook-timestamp", "")
        expected = standard_webhooks_signature(self.secret, wid, timestamp, body)
        offered = request.headers.get("webhook-signature", "").split()
        return any(hmac.compare_digest(expected, one) for one in offered)


def _sender_id(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = document.get("sender_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawSubscriber:
    """A TCP server on loopback whose every connection runs ``behaviour``."""

    def __init__(self, name: str, behaviour: Behaviour) -> None:
        self.name = name
        self.behaviour = behaviour
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{self.name}"

    async def start(self) -> RawSubscriber:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await self.behaviour(reader, writer)
        finally:
            self.open -= 1
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(10):
        return await reader.readuntil(b"\r\n\r\n")


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, never answer; keep the connection until the client gives up."""
    async with asyncio.timeout(120):
        while await reader.read(65536):
            pass


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request head, then reset the connection (RST, not FIN)."""
    await _read_head(reader)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def slow(delay: float) -> Behaviour:
    """Answer 200, but only after ``delay`` seconds."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await _read_head(reader)
            await _skip_body(reader, head)
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    return behaviour


def huge(total: int) -> Behaviour:
    """Answer 200 with a ``total``-byte body, written as fast as the client takes it."""
    chunk = b"z" * 65536

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_head(reader)
        await _skip_body(reader, head)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            async with asyncio.timeout(30):
                await writer.drain()

    return behaviour


async def _skip_body(reader: asyncio.StreamReader, head: bytes) -> None:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
