"""The real brokers the tests run: a RabbitMQ that keeps durable messages over a restart,
and an SQS emulator that speaks the wire protocol aiobotocore speaks to AWS."""

from __future__ import annotations

import aio_pika
from aiobotocore.session import get_session

from testkit.consumers import queue_depth
from testkit.rabbitmq import RabbitMQ
from testkit.sqs import SqsServer


async def test_the_test_rabbitmq_keeps_a_persistent_message_over_a_restart(
    rabbitmq: RabbitMQ,
) -> None:
    connection = await aio_pika.connect(rabbitmq.url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue("server-restart", durable=True)
        message = aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await channel.default_exchange.publish(message, routing_key="server-restart")
    rabbitmq.restart()
    assert await queue_depth(rabbitmq.url, "server-restart") == 1


async def test_the_sqs_emulator_serves_a_fifo_queue_in_order(
    sqs_server: SqsServer, aws_credentials: dict[str, str]
) -> None:
    session = get_session()
    async with session.create_client(
        "sqs", region_name=sqs_server.region, endpoint_url=sqs_server.endpoint_url
    ) as sqs:
        created = await sqs.create_queue(
            QueueName="emulator-order.fifo", Attributes={"FifoQueue": "true"}
        )
        url = created["QueueUrl"]
        for n in range(3):
            await sqs.send_message(
                QueueUrl=url, MessageBody=str(n), MessageGroupId="k", MessageDeduplicationId=f"m{n}"
            )
        received = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert [m["Body"] for m in received["Messages"]] == ["0", "1", "2"]
