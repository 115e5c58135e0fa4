"""A source reading an SQS queue (moto's server): stored once, deleted after the COMMIT,
left on the queue when it cannot be stored, poison left to the queue's redrive policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from gateway.brokers.config import SqsBroker
from gateway.config import SourceConfig
from gateway.domain.receive import SqsReceive
from gateway.store.events import get_event
from testkit.amazon import sp_api_notification
from testkit.polling import until
from testkit.sqs import SqsServer
from testkit.tcpproxy import FaultProxy
from tests.integration.sources.conftest import Reading


async def _queue(sqs: Any, name: str, **attributes: str) -> str:
    created = await sqs.create_queue(QueueName=name, Attributes=attributes)
    return str(created["QueueUrl"])


async def _left_on(sqs: Any, url: str) -> int:
    """Messages still on the queue, visible or not."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(answer["Attributes"][n]) for n in names)


async def _emptied(sqs: Any, url: str) -> None:
    async def empty() -> bool:
        return await _left_on(sqs, url) == 0

    await until(empty, 10, what=f"{url} empty")


Starter = Callable[..., Awaitable[Reading]]


@pytest.fixture
def read_amazon(sqs_broker: SqsBroker, reading: Callable[..., Reading]) -> Starter:
    """``await read_amazon(queue_url, **receive)``: the ``amazon`` source reading it."""

    async def start(url: str, *, grace_seconds: float = 3.0, **receive: Any) -> Reading:
        source = _amazon(url, **receive)
        return await reading((source,), (sqs_broker,), grace_seconds=grace_seconds).start()

    return start


def _amazon(url: str, **receive: Any) -> SourceConfig:
    options = {"wait_seconds": 1, **receive}
    return SourceConfig(
        name="amazon",
        scheme="amazon-sp-api",
        receive=SqsReceive(broker="aws", queue_url=url, **options),
    )


async def test_sp_api_notifications_in_both_spellings_are_stored_once_each_then_deleted(
    sqs: Any, queue_name: str, read_amazon: Starter
) -> None:
    url = await _queue(sqs, queue_name)
    for body in (
        sp_api_notification("n-camel"),
        sp_api_notification("n-pascal", "ANY_OFFER_CHANGED", pascal=True),
        sp_api_notification("n-camel"),  # Amazon sends a notification again
    ):
        await sqs.send_message(QueueUrl=url, MessageBody=body.decode())
    gateway = await read_amazon(url)

    await until(lambda: gateway.status("amazon").duplicates == 1, 20, what="the duplicate")
    events = await gateway.events("amazon")
    assert sorted((e.external_id, e.event_type) for e in events) == [
        ("n-camel", "ORDER_CHANGE"),
        ("n-pascal", "ANY_OFFER_CHANGED"),
    ]
    for event in events:
        stored = await get_event(gateway.db, event.id)
        assert stored.headers["sp-api-subscription-id"] == "93b098e1-c42-2f45-93a1-78910a6a8369"
        assert stored.headers["sp-api-application-id"].startswith("amzn1.sellerapps.app.")
        assert stored.body == sp_api_notification(  # the notification, as Amazon sent it
            event.external_id, stored.event_type or "", pascal=event.external_id == "n-pascal"
        )
    await _emptied(sqs, url)
    status = gateway.status("amazon")
    assert (status.state, status.received, status.stored, status.poison) == ("reading", 3, 2, 0)


async def test_a_message_that_cannot_be_stored_stays_on_the_queue_and_comes_back(
    sqs: Any, queue_name: str, read_amazon: Starter, database_proxy: FaultProxy
) -> None:
    url = await _queue(sqs, queue_name)
    gateway = await read_amazon(url, visibility_timeout_seconds=1)
    database_proxy.sever()  # the database is gone
    await sqs.send_message(QueueUrl=url, MessageBody=sp_api_notification("n-1").decode())

    # Not deleted: after its visibility timeout the queue hands it over again.
    await until(lambda: gateway.status("amazon").not_stored >= 2, 20, what="a second receive")
    assert await _left_on(sqs, url) == 1
    assert gateway.status("amazon").stored == 0

    database_proxy.restore()
    await until(lambda: gateway.status("amazon").stored == 1, 20, what="the message stored")
    assert [e.external_id for e in await gateway.events("amazon")] == ["n-1"]
    await _emptied(sqs, url)


async def test_a_poison_message_is_recorded_never_deleted_and_redriven_by_the_queue(
    sqs: Any, queue_name: str, read_amazon: Starter
) -> None:
    dead = await _queue(sqs, f"{queue_name}-dead")
    dead_arn = (await sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"]))[
        "Attributes"
    ]["QueueArn"]
    redrive = orjson.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2}).decode()
    url = await _queue(sqs, queue_name, RedrivePolicy=redrive, VisibilityTimeout="1")
    sent = await sqs.send_message(QueueUrl=url, MessageBody="<not json>")
    await sqs.send_message(QueueUrl=url, MessageBody=sp_api_notification("n-good").decode())
    gateway = await read_amazon(url)

    await until(lambda: gateway.status("amazon").poison >= 2, 20, what="two receives of it")
    poison = gateway.status("amazon").recent_poison[-1]
    assert poison.message_id == sent["MessageId"]
    assert "not JSON" in poison.reason
    assert gateway.metrics.source_messages.labels("amazon", "poison")._value.get() >= 2
    # The queue's own policy moved it aside, intact; the good one went through.

    async def redriven() -> list[str]:
        answer = await sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=1)
        return [m["Body"] for m in answer.get("Messages", [])]

    assert await until(redriven, 20, what="the poison message in the dead-letter queue") == [
        "<not json>"
    ]
    assert [e.external_id for e in await gateway.events("amazon")] == ["n-good"]


async def test_the_reader_holds_at_most_max_in_flight_messages(
    sqs: Any, queue_name: str, read_amazon: Starter, database_proxy: FaultProxy
) -> None:
    url = await _queue(sqs, queue_name, VisibilityTimeout="2")
    gateway = await read_amazon(url, max_in_flight=14)
    database_proxy.stall()  # each message waits for a database that does not answer
    for n in range(3):
        entries = [
            {"Id": str(i), "MessageBody": sp_api_notification(f"n-{n}-{i}").decode()}
            for i in range(10)
        ]
        await sqs.send_message_batch(QueueUrl=url, Entries=entries)
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, gateway.status("amazon").in_flight)
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    try:
        await until(lambda: gateway.status("amazon").in_flight == 14, 30, what="14 held")
        await asyncio.sleep(1.5)  # several long polls' time: it asks for no more meanwhile
        database_proxy.restore()
        await until(lambda: gateway.status("amazon").stored == 30, 60, what="all 30 stored")
    finally:
        watcher.cancel()
    assert most == 14  # two polls under way, ten and four
    await _emptied(sqs, url)


async def test_a_queue_that_cannot_be_reached_is_reported_and_read_once_it_can_be(
    sqs: Any, queue_name: str, sqs_server: SqsServer, read_amazon: Starter
) -> None:
    url = f"{sqs_server.endpoint_url}/123456789012/{queue_name}"  # not created yet
    gateway = await read_amazon(url)
    await until(lambda: gateway.status("amazon").state == "unreachable", 10)
    assert "NonExistentQueue" in (gateway.status("amazon").error or "")
    assert gateway.metrics.source_up.labels("amazon", "sqs")._value.get() == 0

    await _queue(sqs, queue_name)
    await sqs.send_message(QueueUrl=url, MessageBody=sp_api_notification("n-1").decode())
    await until(lambda: gateway.status("amazon").stored == 1, 20, what="read once it exists")
    assert gateway.status("amazon").error is None
    assert gateway.metrics.source_up.labels("amazon", "sqs")._value.get() == 1


async def test_stopping_gives_back_at_once_what_could_not_be_stored_in_the_grace_period(
    sqs: Any, queue_name: str, read_amazon: Starter, database_proxy: FaultProxy
) -> None:
    url = await _queue(sqs, queue_name, VisibilityTimeout="600")
    gateway = await read_amazon(url, grace_seconds=0.5)
    database_proxy.stall()  # the database takes the statement and never answers
    await sqs.send_message(QueueUrl=url, MessageBody=sp_api_notification("n-1").decode())
    await until(lambda: gateway.status("amazon").in_flight == 1, 10, what="the message held")
    await gateway.stop()
    # Visible again now, not in ten minutes: another replica takes it at once.
    again = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert len(again.get("Messages", [])) == 1
