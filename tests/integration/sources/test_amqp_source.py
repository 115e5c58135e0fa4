"""A source reading a RabbitMQ queue (a real broker): acknowledged only after the COMMIT,
no more in hand than the prefetch, poison dead-lettered, reading again after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from gateway.brokers.config import AmqpBroker
from gateway.config import SourceConfig
from gateway.domain.receive import AmqpReceive
from gateway.store.events import get_event
from testkit.polling import until
from testkit.rabbitmq import RabbitMQ
from testkit.tcpproxy import FaultProxy
from tests.integration.sources.conftest import Reading


@pytest.fixture
async def channel(rabbitmq: RabbitMQ) -> AsyncIterator[Any]:
    """A channel of the operator's own: declares queues, publishes, looks at depths."""
    connection = await aio_pika.connect(rabbitmq.url)
    async with connection:
        yield await connection.channel(publisher_confirms=True)


async def _publish(channel: Any, queue: str, body: bytes, **properties: Any) -> None:
    message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)
    await channel.default_exchange.publish(message, routing_key=queue)


async def _depth(channel: Any, queue: str) -> int:
    """Messages ready on ``queue`` (none handed to a consumer and not yet acknowledged)."""
    declared = await channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.message_count or 0)


Starter = Callable[..., Awaitable[Reading]]


@pytest.fixture
def read_orders(
    channel: Any, queue_name: str, amqp_broker: AmqpBroker, reading: Callable[..., Reading]
) -> Starter:
    """``await read_orders(**receive)``: the ``orders`` source reading this test's queue
    (declared first unless ``declare=False``), once it reads."""

    async def start(*, declare: bool = True, **receive: Any) -> Reading:
        if declare:
            await channel.declare_queue(queue_name, durable=True)
        gateway = await reading((_shop(queue_name, **receive),), (amqp_broker,)).start()
        await until(lambda: gateway.status("orders").state == "reading", 10)
        return gateway

    return start


def _shop(queue: str, **receive: Any) -> SourceConfig:
    return SourceConfig(
        name="orders",
        scheme="none",
        event_id="/id",
        event_type="amqp-routing-key",
        receive=AmqpReceive(broker="rabbit", queue=queue, **receive),
    )


async def test_a_message_is_acknowledged_only_after_its_commit(
    channel: Any, queue_name: str, read_orders: Starter, database_proxy: FaultProxy
) -> None:
    gateway = await read_orders()
    database_proxy.stall()  # the COMMIT does not come
    await _publish(channel, queue_name, b'{"id": "o-1"}')
    await until(lambda: gateway.status("orders").in_flight == 1, 10, what="the message held")

    # The gateway stops before any COMMIT: the message is back on the queue, whole.
    await gateway.stop()
    assert await _depth(channel, queue_name) == 1
    assert await gateway.events("orders") == []

    database_proxy.restore()
    again = await read_orders(declare=False)
    await until(lambda: again.status("orders").stored == 1, 20, what="stored on its return")
    (event,) = await again.events("orders")
    assert (event.external_id, event.event_type) == ("o-1", queue_name)
    await asyncio.sleep(0.2)
    assert await _depth(channel, queue_name) == 0


async def test_a_message_not_stored_goes_back_to_the_queue_and_is_stored_once_it_can_be(
    channel: Any, queue_name: str, read_orders: Starter, database_proxy: FaultProxy
) -> None:
    gateway = await read_orders()
    database_proxy.sever()
    await _publish(channel, queue_name, b'{"id": "o-1"}', message_id="m-1")
    await until(lambda: gateway.status("orders").received >= 2, 20, what="handed over again")
    assert gateway.status("orders").stored == 0

    database_proxy.restore()
    await until(lambda: gateway.status("orders").stored == 1, 20, what="stored")
    (event,) = await gateway.events("orders")
    stored = await get_event(gateway.db, event.id)
    assert stored.headers["queue-message-id"] == "m-1"
    await until(lambda: gateway.status("orders").in_flight == 0, 5)
    assert await _depth(channel, queue_name) == 0


async def test_no_more_messages_are_in_hand_than_the_prefetch(
    channel: Any, queue_name: str, read_orders: Starter, database_proxy: FaultProxy
) -> None:
    gateway = await read_orders(prefetch=3)
    database_proxy.stall()
    for n in range(20):
        await _publish(channel, queue_name, b'{"id": "o-%d"}' % n)
    await until(lambda: gateway.status("orders").in_flight == 3, 10, what="3 in hand")
    await asyncio.sleep(0.5)
    assert gateway.status("orders").received == 3
    assert await _depth(channel, queue_name) == 17

    database_proxy.restore()
    await until(lambda: gateway.status("orders").stored == 20, 60, what="all 20 stored")
    assert len(await gateway.events("orders")) == 20


async def test_a_poison_message_is_recorded_and_dead_lettered_without_requeue(
    channel: Any, queue_name: str, read_orders: Starter
) -> None:
    dead = f"{queue_name}-dead"
    await channel.declare_queue(dead, durable=True)
    await channel.declare_queue(
        queue_name,
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead},
    )
    gateway = await read_orders(declare=False)
    await _publish(channel, queue_name, b'{"no": "id"}', message_id="m-poison")
    await _publish(channel, queue_name, b'{"id": "o-good"}')

    await until(lambda: gateway.status("orders").stored == 1, 20, what="the good one")
    await until(lambda: gateway.status("orders").poison == 1, 20, what="the poison one")
    (poison,) = gateway.status("orders").recent_poison
    assert poison.message_id == "m-poison"
    assert "event id" in poison.reason
    await until(lambda: _depth(channel, dead), 10, what="the poison message dead-lettered")
    assert await _depth(channel, queue_name) == 0
    assert [e.external_id for e in await gateway.events("orders")] == ["o-good"]


async def test_reading_resumes_after_the_broker_restarts(
    channel: Any, queue_name: str, read_orders: Starter, rabbitmq: RabbitMQ
) -> None:
    gateway = await read_orders()
    await _publish(channel, queue_name, b'{"id": "before"}')
    await until(lambda: gateway.status("orders").stored == 1, 20, what="before the restart")

    seen: set[str] = set()

    async def watch() -> None:
        while True:
            seen.add(gateway.status("orders").state)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.to_thread(rabbitmq.restart)
        await until(lambda: "unreachable" in seen, 20, what="the connection lost")
    finally:
        watcher.cancel()
    connection = await aio_pika.connect(rabbitmq.url)
    async with connection:
        await _publish(await connection.channel(), queue_name, b'{"id": "after"}')
    await until(lambda: gateway.status("orders").stored == 2, 60, what="after the restart")
    assert gateway.status("orders").state == "reading"
    assert sorted(e.external_id for e in await gateway.events("orders")) == ["after", "before"]
