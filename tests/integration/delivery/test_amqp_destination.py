"""Subscribers that deliver into RabbitMQ: a real broker, confirms, nacks, returns, restarts.

The broker is the session's (``rabbitmq`` fixture); each test uses queues of its own.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.brokers.config import AmqpBroker
from gateway.domain.broker_destination import AmqpDestination
from gateway.observability import Metrics
from gateway.store.database import Database
from gateway.store.records import Subscriber
from testkit.consumers import declare_queue, read_queue
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.rabbitmq import RabbitMQ
from tests.integration.delivery.conftest import StartDispatcher, delivery_config


def queue_name(what: str) -> str:
    return f"{what}-{secrets.token_hex(4)}"


def brokers(rabbitmq: RabbitMQ) -> tuple[AmqpBroker, ...]:
    return (AmqpBroker(name="rabbit", url=rabbitmq.url),)


async def into_rabbit(db: Database, routing_key: str, **spec: Any) -> Subscriber:
    destination = AmqpDestination(broker="rabbit", routing_key=routing_key)
    return await subscriber(db, url=None, destination=destination, **spec)


async def statuses(db: Database) -> dict[str, int]:
    rows = await db.pool.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def outcomes(db: Database) -> list[tuple[str, str | None]]:
    rows = await db.pool.fetch("SELECT outcome, error FROM delivery_attempts ORDER BY started_at")
    return [(r["outcome"], r["error"]) for r in rows]


async def test_a_delivery_is_published_persistent_signed_and_routed_by_its_template(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("orders")
    await declare_queue(rabbitmq.url, f"{queue}.orders/create.DE")
    sub = await into_rabbit(
        db, queue + ".{type}.{body.address.country}", headers={"X-Tenant": "eu"}
    )
    body = orjson.dumps({"order": 1, "address": {"country": "DE"}})
    (stored,) = await store_events(db, [event("o-1", body=body, key="customer-7")])
    metrics = Metrics()
    await start_dispatcher(delivery_config(), metrics=metrics, brokers=brokers(rabbitmq))
    await until(lambda: _succeeded(db, 1), what="the delivery to be confirmed")
    (message,) = await read_queue(rabbitmq.url, f"{queue}.orders/create.DE")
    assert message.body == body
    assert message.persistent and message.content_type == "application/json"
    assert message.routing_key == f"{queue}.orders/create.DE"
    assert message.headers["webhook-id"] == stored.event_id
    assert message.headers["x-gateway-source"] == "shop"
    assert message.headers["x-gateway-event-type"] == "orders/create"
    assert message.headers["X-Tenant"] == "eu"
    assert message.message_id is not None and message.message_id.startswith("dlv_")
    Webhook(sub.secret).verify(message.body, message.headers)  # a consumer can verify it
    assert await outcomes(db) == [("success", None)]
    sample = metrics.registry.get_sample_value
    labels = {"subscriber": "wms", "outcome": "2xx", "kind": "amqp"}
    assert sample("gateway_delivery_attempts_total", labels) == 1


async def _succeeded(db: Database, count: int) -> bool:
    return (await statuses(db)).get("succeeded", 0) == count


async def test_a_nack_from_a_full_queue_is_a_failed_attempt_retried_until_the_broker_takes_it(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("full")
    await declare_queue(rabbitmq.url, queue, **{"x-max-length": 1, "x-overflow": "reject-publish"})
    await into_rabbit(db, queue, retry_schedule=[0.2], max_attempts=50)
    await store_events(db, [event("o-1"), event("o-2")])
    await start_dispatcher(delivery_config(concurrency=1), brokers=brokers(rabbitmq))
    await until(lambda: _attempted(db, "broker_nack"), what="a nack")
    assert (await statuses(db)).get("succeeded") == 1  # one fitted; the other waits
    assert ("broker_nack", "the broker refused the message (basic.nack)") in await outcomes(db)
    await read_queue(rabbitmq.url, queue)  # a consumer makes room
    await until(lambda: _succeeded(db, 2), what="the retry to be confirmed")


async def _attempted(db: Database, outcome: str) -> bool:
    return any(o == outcome for o, _ in await outcomes(db))


async def test_an_unroutable_message_comes_back_as_a_failed_attempt_not_a_delivery(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("late")  # no queue by that name yet: the default exchange returns it
    await into_rabbit(db, queue, retry_schedule=[0.2], max_attempts=50)
    await store_events(db, [event("o-1")])
    await start_dispatcher(delivery_config(), brokers=brokers(rabbitmq))
    await until(lambda: _attempted(db, "unroutable"), what="a returned message")
    outcome, error = (await outcomes(db))[0]
    assert outcome == "unroutable"
    assert (
        error
        == f"no queue took the message (NO_ROUTE): routing key '{queue}' on the default exchange"
    )
    assert (await statuses(db)).get("pending") == 1
    await declare_queue(rabbitmq.url, queue)
    await until(lambda: _succeeded(db, 1), what="the retry into the new queue")
    assert len(await read_queue(rabbitmq.url, queue)) == 1


async def test_an_exchange_that_does_not_exist_fails_the_attempt_and_the_channel_recovers(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("direct")
    await declare_queue(rabbitmq.url, queue)
    missing = AmqpDestination(broker="rabbit", exchange="no-such-exchange", routing_key=queue)
    await subscriber(db, "lost", url=None, destination=missing, max_attempts=1)
    await into_rabbit(db, queue)
    await store_events(db, [event("o-1")])
    await start_dispatcher(delivery_config(), brokers=brokers(rabbitmq))
    await until(lambda: _done(db, 2))
    assert await statuses(db) == {"dead": 1, "succeeded": 1}
    assert ("unroutable", "the broker has no exchange 'no-such-exchange'") in await outcomes(db)
    assert len(await read_queue(rabbitmq.url, queue)) == 1


async def _done(db: Database, count: int) -> bool:
    found = await statuses(db)
    return found.get("succeeded", 0) + found.get("dead", 0) == count


async def test_a_message_the_broker_never_confirms_is_a_timeout_not_a_delivery(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("blocked")
    await declare_queue(rabbitmq.url, queue)
    await into_rabbit(db, queue, timeout_seconds=1.0, retry_schedule=[0.2], max_attempts=50)
    await store_events(db, [event("o-1")])
    rabbitmq.ctl("set_vm_memory_high_watermark", "0")  # the broker blocks every publisher
    try:
        await start_dispatcher(delivery_config(), brokers=brokers(rabbitmq))
        await until(lambda: _attempted(db, "timeout"), what="an unconfirmed attempt")
        assert (await statuses(db)).get("succeeded") is None
    finally:
        rabbitmq.ctl("set_vm_memory_high_watermark", "0.4")
    await until(lambda: _succeeded(db, 1), 30.0, what="the retry once the broker takes it")
    assert len(await read_queue(rabbitmq.url, queue)) >= 1


@pytest.mark.slow
async def test_a_restart_of_rabbitmq_mid_drain_loses_no_delivery(
    db: Database, start_dispatcher: StartDispatcher, rabbitmq: RabbitMQ
) -> None:
    queue = queue_name("restart")
    await declare_queue(rabbitmq.url, queue)
    # 40 a second: the drain takes five seconds, and the restart comes in its midst.
    spec = {"rate_limit_per_second": 40.0, "rate_limit_burst": 1}
    await into_rabbit(db, queue, retry_schedule=[0.5], max_attempts=100, **spec)
    stored = await store_events(db, [event(f"o-{n}") for n in range(200)])
    config = delivery_config(concurrency=4, circuit_cooldown_seconds=0.5)
    await start_dispatcher(config, brokers=brokers(rabbitmq))
    await until(lambda: _succeeded_at_least(db, 20), what="the drain to be under way")
    await asyncio.to_thread(rabbitmq.restart)
    await until(lambda: _succeeded(db, 200), 90.0, what="every delivery to be confirmed")
    taken = await read_queue(rabbitmq.url, queue)
    ids = {message.headers["webhook-id"] for message in taken}
    assert ids == {result.event_id for result in stored}  # none missing (some maybe twice)
    assert any(outcome != "success" for outcome, _ in await outcomes(db))  # it did fail


async def _succeeded_at_least(db: Database, count: int) -> bool:
    return (await statuses(db)).get("succeeded", 0) >= count
