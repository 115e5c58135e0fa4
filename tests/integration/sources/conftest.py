"""Sources reading real queues (moto's SQS server, a real RabbitMQ) into a real database
through the gateway's own writer, in this process; the database behind a proxy a test can
cut."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.brokers.config import AmqpBroker, Broker, SqsBroker
from gateway.config import Config, SourceConfig, WriterConfig
from gateway.domain.receive import ReaderStatus
from gateway.ingress.messages import MessageIntake
from gateway.ingress.sns import SnsCertificates
from gateway.ingress.source import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.sources.readers import SourceReaders
from gateway.store.database import Database
from gateway.store.events import list_events
from gateway.store.records import EventSummary
from testkit.rabbitmq import RabbitMQ
from testkit.sqs import SqsServer
from testkit.tcpproxy import FaultProxy


class Reading:
    """The sources' readers of ``serve``, over a writer whose database is behind
    ``database_proxy``."""

    def __init__(
        self,
        database_proxy: FaultProxy,
        db: Database,
        sources: tuple[SourceConfig, ...],
        brokers: tuple[Broker, ...],
        certificates: SnsCertificates | None = None,
        grace_seconds: float = 3.0,
    ) -> None:
        self.database_proxy = database_proxy
        self.db = db  # straight to the database: what the test reads
        self.config = Config(sources=sources, brokers=brokers)
        self.metrics = Metrics()
        self.certificates = certificates or SnsCertificates(())
        self.grace_seconds = grace_seconds
        self.writer: GroupCommitWriter | None = None
        self.readers: SourceReaders | None = None
        self._writer_db: Database | None = None

    async def start(self) -> Reading:
        self._writer_db = await Database.connect(
            self.database_proxy.url, min_size=1, max_size=4, connect_timeout=1, command_timeout=2
        )
        self.writer = GroupCommitWriter(
            self._writer_db, WriterConfig(), self.metrics, ack_timeout=3
        )
        self.writer.start()
        intake = MessageIntake(self.writer, self.certificates, 1024 * 1024)
        self.readers = SourceReaders(
            build_sources(self.config),
            self.config.brokers,
            intake,
            self.metrics,
            grace_seconds=self.grace_seconds,
            refresh_seconds=3600,
        )
        await self.readers.start()
        return self

    async def stop(self) -> None:
        if self.readers is not None:
            await self.readers.stop()
            self.readers = None
        if self.writer is not None:
            await self.writer.close()
            self.writer = None
        if self._writer_db is not None:
            await self._writer_db.close()
            self._writer_db = None

    def status(self, name: str) -> ReaderStatus:
        assert self.readers is not None
        return self.readers.statuses()[name]

    async def events(self, source: str) -> list[EventSummary]:
        return await list_events(self.db, source=source)


@pytest.fixture
async def reading(
    database_proxy: FaultProxy, db: Database
) -> AsyncIterator[Callable[..., Reading]]:
    """``reading(sources, brokers, **options)``: readers to start; stopped at the end."""
    made: list[Reading] = []

    def make(
        sources: tuple[SourceConfig, ...], brokers: tuple[Broker, ...], **options: Any
    ) -> Reading:
        made.append(Reading(database_proxy, db, sources, brokers, **options))
        return made[-1]

    yield make
    for one in made:
        await one.stop()


@pytest.fixture
def sqs_broker(sqs_server: SqsServer, aws_credentials: dict[str, str]) -> SqsBroker:
    return SqsBroker(name="aws", region=sqs_server.region, endpoint_url=sqs_server.endpoint_url)


@pytest.fixture
def amqp_broker(rabbitmq: RabbitMQ) -> AmqpBroker:
    return AmqpBroker(name="rabbit", url=rabbitmq.url)


@pytest.fixture
def queue_name() -> str:
    """A name of this test's own."""
    return f"q-{uuid.uuid4().hex[:12]}"
