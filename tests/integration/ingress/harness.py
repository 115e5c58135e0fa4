"""The real ingress application on a loopback port, with a real writer and database.

Served as ``serve`` serves it (``GuardedRunner`` and ``early_answers``), two ways, by
``[ingress] fast_path``: on (the default), connections answer plain webhooks from their
bytes (ingress/fastpath.py); off, every request goes through aiohttp's request path
(only the overload refusal answers from the bytes). The ingress tests run both ways (the
``start_ingress`` fixture), so both paths must give every answer the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from gateway.config import Config, IngressConfig, SourceConfig, WriterConfig
from gateway.http.acceptor import GreedySite
from gateway.ingress.intake import Intake
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.source import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.observability.tracing import Tracing
from gateway.runtime import early_answers
from gateway.runtime.apps import build_ingress_app
from gateway.store.database import Database


class Answer:
    """What the gateway answered: status, headers and the decoded JSON body (or ``None``)."""

    def __init__(self, status: int, headers: CIMultiDictProxy[str], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body!r})"


class Ingress:
    """``build_ingress_app`` served by aiohttp on ``host``, reached over real HTTP."""

    def __init__(
        self,
        db: Database,
        sources: tuple[SourceConfig, ...],
        host: str,
        tracing: Tracing | None = None,
        **ingress: Any,
    ) -> None:
        self.db = db
        self.host = host
        self.metrics = Metrics()
        config = IngressConfig(**ingress)
        self.writer = GroupCommitWriter(  # with the ack timeout, as ``serve`` makes it
            db, WriterConfig(batch_wait_ms=0), self.metrics, ack_timeout=config.ack_timeout_seconds,
            tracing=tracing,
        )  # fmt: skip
        self.state = Intake(
            config,
            build_sources(Config(sources=sources)),
            self.writer,
            self.metrics,
            tracing=tracing,
        )
        self.runner = GuardedRunner(
            build_ingress_app(self.state),
            header_timeout=config.header_timeout_seconds,
            keepalive_timeout=config.keepalive_timeout_seconds,
            answer_early=early_answers(self.state),
            access_log=None,
            shutdown_timeout=2.0,
        )
        self._port = 0
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def start(self) -> Ingress:
        self.writer.start()
        await self.runner.setup()
        site = GreedySite(self.runner, self.host, 0)
        await site.start()
        self._port = site.port
        return self

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()
        await self.writer.close()

    @property
    def port(self) -> int:
        return self._port

    def make_url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def url(self, source: str) -> str:
        return self.make_url(f"/webhooks/v1/{source}")

    @property
    def seen_by_aiohttp(self) -> int:
        """Requests aiohttp parsed and handed to the app."""
        assert self.runner.server is not None
        return int(self.runner.server.requests_count)

    async def post(
        self,
        source: str,
        body: bytes = b"{}",
        headers: dict[str, str] | None = None,
        method: str = "POST",
    ) -> Answer:
        async with self.http.request(
            method, self.url(source), data=body, headers=headers or {}
        ) as response:
            raw = await response.read()
            try:
                decoded = await response.json(content_type=None) if raw else None
            except ValueError:
                decoded = raw
            return Answer(response.status, response.headers, decoded)

    async def stored(self, source: str | None = None) -> int:
        """How many events the database holds (of ``source``)."""
        if source is None:
            count = await self.db.pool.fetchval("SELECT count(*) FROM events")
        else:
            count = await self.db.pool.fetchval(
                "SELECT count(*) FROM events WHERE source = $1", source
            )
        return int(count)

    def counted(self, source: str, outcome: str) -> float:
        """``gateway_ingest_requests_total{source, outcome}``."""
        value = self.metrics.registry.get_sample_value(
            "gateway_ingest_requests_total", {"source": source, "outcome": outcome}
        )
        return value or 0.0


class RawAnswer:
    """An answer read off a raw socket until the server closed it (or the time ran out)."""

    def __init__(self, data: bytes, closed: bool, seconds: float) -> None:
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        self.closed = closed
        self.seconds = seconds


async def raw_exchange(
    port: int, head: bytes, parts: list[bytes], wait: float = 3.0, host: str = "127.0.0.1"
) -> RawAnswer:
    """Send ``head`` and then ``parts`` without finishing the request; read what comes back.

    ``closed`` says whether the server closed the connection within ``wait`` seconds.
    """
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    data = b""
    closed = False
    try:
        writer.write(head)
        for part in parts:
            writer.write(part)
            await writer.drain()
    except ConnectionError:
        pass
    try:
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                data += chunk
        closed = True
    except ConnectionError:
        closed = True
    except TimeoutError:
        closed = False
    finally:
        writer.close()
    return RawAnswer(data, closed, time.monotonic() - started)


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> object:
        return orjson.loads(self.body)


class Client:
    """One keep-alive connection, written to in raw bytes, answers read one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, *parts: bytes) -> Reply:
        await self.write(*parts)
        return await self.reply()

    async def write(self, *parts: bytes, pause: float = 0.0) -> None:
        for part in parts:
            self.writer.write(part)
            await self.writer.drain()
            if pause:
                await asyncio.sleep(pause)

    async def reply(self) -> Reply:
        async with asyncio.timeout(5):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Reply(int(lines[0].split()[1]), headers, body)

    async def closed_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                return await self.reader.read(1) == b""
        except TimeoutError:
            return False

    def close(self) -> None:
        self.writer.close()
