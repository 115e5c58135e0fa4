"""Clients that fail on their side get a 4xx (or nothing), never a 5xx, and no traceback.

Found by the fault suite's fuzz (chaos/): a body cut off by the client, and a
Content-Type carrying bytes that are not ASCII. The ingress is served here the way
``serve`` serves it (``GuardedRunner``: handlers are not cancelled when a client leaves).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from gateway.config import Config, IngressConfig, SourceConfig, WriterConfig
from gateway.ingress.intake import Intake
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.source import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.runtime.apps import build_ingress_app
from gateway.store.database import Database
from testkit.polling import until
from testkit.sinks import listen
from tests.integration.ingress.harness import raw_exchange

OPEN = SourceConfig(name="open", scheme="none", event_id="X-Event-Id")


@dataclasses.dataclass
class Served:
    port: int
    metrics: Metrics
    db: Database

    def counted(self, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "gateway_ingest_requests_total", {"source": "open", "outcome": outcome}
        )
        return value or 0.0

    async def stored(self) -> int:
        return int(await self.db.pool.fetchval("SELECT count(*) FROM events"))


@pytest.fixture
async def served(db: Database) -> AsyncIterator[Served]:
    metrics = Metrics()
    writer = GroupCommitWriter(db, WriterConfig(batch_wait_ms=0), metrics)
    writer.start()
    config = IngressConfig()
    state = Intake(config, build_sources(Config(sources=(OPEN,))), writer, metrics)
    runner = GuardedRunner(
        build_ingress_app(state),
        header_timeout=config.header_timeout_seconds,
        keepalive_timeout=config.keepalive_timeout_seconds,
        access_log=None,
        shutdown_timeout=1.0,
    )
    yield Served(await listen(runner), metrics, db)
    await runner.cleanup()
    await writer.close()


async def test_a_content_type_that_is_not_ascii_is_refused_with_415(served: Served) -> None:
    body = b'{"id": 1}'
    head = (
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: g\r\nConnection: close\r\n"
        b"Content-Type: applicatio\xc2/json\r\nX-Event-Id: e1\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    answer = await raw_exchange(served.port, head, [body])
    assert answer.status == 415
    assert await served.stored() == 0


async def test_a_body_cut_off_by_the_client_is_no_server_error(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: g\r\nX-Event-Id: e2\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.transport.abort()  # gone, mid-body
    await until(lambda: served.counted("body-incomplete"), 5, 0.02)
    assert served.counted("error") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await served.stored() == 0
