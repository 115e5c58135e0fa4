"""The other end of a broker destination: a consumer's view of a RabbitMQ queue and an
SQS queue, for tests and the bench (declare a queue, read what it holds)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import aio_pika
import orjson
from aiobotocore.session import get_session

from testkit.sqs import SqsServer

__all__ = [
    "Received",
    "declare_queue",
    "queue_depth",
    "read_queue",
    "sqs_client",
    "sqs_messages",
    "sqs_queue",
]


@dataclasses.dataclass(frozen=True)
class Received:
    """One message as a consumer gets it: body, headers (or attributes) and metadata."""

    body: bytes
    headers: dict[str, str]
    content_type: str | None
    routing_key: str | None = None
    persistent: bool | None = None
    message_id: str | None = None
    group: str | None = None
    dedup: str | None = None


async def declare_queue(url: str, name: str, **arguments: Any) -> None:
    """A durable queue (``arguments`` are its ``x-`` arguments), emptied."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True, arguments=arguments or None)
        await queue.purge()


async def queue_depth(url: str, name: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def read_queue(url: str, name: str, limit: int = 100_000) -> list[Received]:
    """Take every message the queue holds now (at most ``limit``), acknowledging each."""
    taken: list[Received] = []
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        while len(taken) < limit:
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                break
            headers = {k: _text(v) for k, v in (message.headers or {}).items()}
            taken.append(
                Received(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    routing_key=message.routing_key,
                    persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                )
            )
    return taken


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def sqs_client(server: SqsServer) -> Any:
    """An aiobotocore SQS client for the emulator (``async with``); the credentials are
    the standard variables' (the ``aws_credentials`` fixture sets them)."""
    return get_session().create_client(
        "sqs", region_name=server.region, endpoint_url=server.endpoint_url
    )


async def sqs_queue(server: SqsServer, name: str) -> str:
    """A new queue's URL; a name ending in ``.fifo`` makes a FIFO queue."""
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    async with sqs_client(server) as sqs:
        created = await sqs.create_queue(QueueName=name, Attributes=attributes)
        return str(created["QueueUrl"])


async def sqs_messages(server: SqsServer, queue_url: str, expected: int) -> list[Received]:
    """Receive (and delete) messages until ``expected`` came or the queue has no more."""
    taken: list[Received] = []
    async with sqs_client(server) as sqs:
        while len(taken) < expected:
            answer = await sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=1,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for m in messages:
                taken.append(_sqs_received(m))
                await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return taken


def _sqs_received(message: dict[str, Any]) -> Received:
    attributes = {
        name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()
    }
    body = message["Body"].encode()
    if attributes.get("content-transfer-encoding") == "base64":
        body = base64.b64decode(body)
    headers = {k: v for k, v in attributes.items() if k != "x-gateway-headers"}
    headers.update(orjson.loads(attributes.get("x-gateway-headers", "{}")))
    system = message.get("Attributes", {})
    return Received(
        body=body,
        headers=headers,
        content_type=attributes.get("content-type"),
        message_id=message.get("MessageId"),
        group=system.get("MessageGroupId"),
        dedup=system.get("MessageDeduplicationId"),
    )
