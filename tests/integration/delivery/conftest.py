"""Dispatchers in this process, on the test's own database, and subscribers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest

from gateway.brokers.config import Broker
from gateway.config import DeliveryConfig
from gateway.delivery.client import OutboundClient
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.links import PayloadLinks
from gateway.delivery.ssrf import AddressPolicy
from gateway.domain.operational import Emit, drop
from gateway.observability import Metrics
from gateway.store.database import Database
from testkit.sinks import Behaviour, Sink, answer

FAST = DeliveryConfig(
    allowed_private_cidrs=("127.0.0.0/8",),
    poll_interval_seconds=0.05,
    backoff_base_seconds=0.01,
    backoff_cap_seconds=0.05,
    max_attempts=5,
    timeout_seconds=2.0,
    lease_seconds=10.0,
    grace_seconds=2.0,
)

LINK_KEY = b"thin-payload-link-key-for-tests-0123456789"


def delivery_config(**overrides: Any) -> DeliveryConfig:
    return msgspec.structs.replace(FAST, **overrides)


StartDispatcher = Callable[..., Awaitable[Dispatcher]]


@pytest.fixture
async def start_dispatcher(database_url: str) -> AsyncIterator[StartDispatcher]:
    """Start a dispatcher with a pool of its own (a replica); all are stopped at the end."""
    running: list[tuple[Dispatcher, OutboundClient, Database]] = []

    async def start(
        config: DeliveryConfig = FAST,
        metrics: Metrics | None = None,
        queue_db: Database | None = None,
        brokers: tuple[Broker, ...] = (),
        emit: Emit = drop,
    ) -> Dispatcher:
        db = await Database.connect(database_url, min_size=1, max_size=6)
        client = OutboundClient(
            AddressPolicy(config.allowed_private_cidrs),
            connect_timeout=config.connect_timeout_seconds,
            snippet_bytes=config.response_snippet_bytes,
        )
        links = PayloadLinks(LINK_KEY, "http://127.0.0.1:9", 60)
        dispatcher = Dispatcher(
            db,
            client,
            config,
            metrics or Metrics(),
            links=links,
            queue_db=queue_db,
            brokers=brokers,
            emit=emit,
        )
        dispatcher.start()
        running.append((dispatcher, client, db))
        return dispatcher

    yield start
    for dispatcher, client, db in running:
        await dispatcher.stop(1.0)
        await client.close()
        await db.close()


StartSubscriber = Callable[..., Awaitable[Sink]]


@pytest.fixture
async def start_subscriber() -> AsyncIterator[StartSubscriber]:
    """Start a subscriber on loopback that answers with ``behaviour`` (200 by default)."""
    started: list[Sink] = []

    async def start(behaviour: Behaviour | None = None) -> Sink:
        server = await Sink(behaviour=behaviour or answer(200)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
