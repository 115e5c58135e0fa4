"""The real ingress application on a loopback port, with a real writer and database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from gateway.app import build_ingress_app
from gateway.config import Config, IngressConfig, SourceConfig, WriterConfig
from gateway.ingress.routes import IngressState
from gateway.ingress.sources import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
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
        self, db: Database, sources: tuple[SourceConfig, ...], host: str, **ingress: Any
    ) -> None:
        self.db = db
        self.metrics = Metrics()
        self.writer = GroupCommitWriter(db, WriterConfig(batch_wait_ms=0), self.metrics)
        self.state = IngressState(
            IngressConfig(**ingress),
            build_sources(Config(sources=sources)),
            self.writer,
            self.metrics,
        )
        self.server = TestServer(build_ingress_app(self.state), host=host)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def start(self) -> Ingress:
        self.writer.start()
        await self.server.start_server()
        return self

    async def stop(self) -> None:
        await self.http.close()
        await self.server.close()
        await self.writer.close()

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def url(self, source: str) -> str:
        return str(self.server.make_url(f"/webhooks/v1/{source}"))

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
