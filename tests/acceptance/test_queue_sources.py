"""Sources that read a queue, in the real ``webhook-gateway serve``: Amazon's notifications
from SQS to a warehouse's HTTP endpoint and into a RabbitMQ queue, once each, though the
gateway is killed between a COMMIT and its delete; and no broker credential in anything
the gateway writes or answers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import aiohttp
import orjson
import pytest

from gateway.delivery.signer import new_secret
from testkit.amazon import sp_api_notification
from testkit.consumers import declare_queue, queue_depth, read_queue
from testkit.polling import until
from testkit.processes import GatewayProcess
from testkit.rabbitmq import RabbitMQ
from testkit.scrape import scrape
from testkit.sinks import Sink
from testkit.sqs import SqsServer
from testkit.sqsproxy import SqsProxy
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import api_get, console_page, wait_for_status


@pytest.fixture
async def sqs_proxy(sqs_server: SqsServer) -> AsyncIterator[SqsProxy]:
    held = await SqsProxy(sqs_server.endpoint_url).start()
    yield held
    await held.stop()


async def _published(rabbitmq: RabbitMQ, queue: str, count: int) -> bool:
    return await queue_depth(rabbitmq.url, queue) >= count


async def _left_on(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(answer["Attributes"][n]) for n in names)


def _amazon_config(
    database_url: str, sqs: tuple[str, str, str], warehouse: str, rabbit: tuple[str, str]
) -> dict[str, Any]:
    """SP-API notifications from the SQS queue (endpoint, region, queue URL) to the
    warehouse's URL and into the RabbitMQ queue (broker URL, queue)."""
    endpoint_url, region, queue_url = sqs
    config = base_config(database_url)
    config["brokers"] = [
        {"name": "aws", "kind": "sqs", "region": region, "endpoint_url": endpoint_url},
        {"name": "rabbit", "kind": "amqp", "url": rabbit[0]},
    ]
    config["sources"] = [
        {
            "name": "amazon",
            "scheme": "amazon-sp-api",
            "receive": {"kind": "sqs", "broker": "aws", "queue_url": queue_url, "wait_seconds": 1},
        }
    ]
    into_rabbit = {"kind": "amqp", "broker": "rabbit", "routing_key": rabbit[1]}
    config["subscribers"] = [
        {"name": "warehouse", "url": warehouse, "secret": new_secret(), "sources": ["amazon"]},
        {"name": "wms", "destination": into_rabbit, "secret": new_secret()},
    ]
    return config


async def test_a_notification_reaches_each_subscriber_once_though_killed_between_commit_and_delete(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
    sqs: Any,
    sqs_server: SqsServer,
    sqs_proxy: SqsProxy,
    rabbitmq: RabbitMQ,
) -> None:
    name = f"sp-api-{secrets.token_hex(6)}"
    created = await sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})
    url = created["QueueUrl"]
    await declare_queue(rabbitmq.url, name)
    through = (sqs_proxy.endpoint_url, sqs_server.region, url)
    config = _amazon_config(database_url, through, sink.url, (rabbitmq.url, name))
    sqs_proxy.hold("DeleteMessage", "DeleteMessageBatch")  # the deletes wait: we kill right there
    gateway = start_gateway(config)
    sent = [sp_api_notification("n-camel"), sp_api_notification("n-pascal", pascal=True)]
    for body in sent:
        await sqs.send_message(QueueUrl=url, MessageBody=body.decode())

    received = await sink.wait_for(2)  # stored, then delivered
    await until(lambda: _published(rabbitmq, name, 2), 20, what="both in the RabbitMQ queue")
    await until(lambda: sqs_proxy.held, 10, what="the delete, sent after the COMMIT")
    # each attempt settled too: a kill before that would send it again, as it must
    await wait_for_status(http, gateway, gateway.token("read"), "succeeded", count=4)
    gateway.kill()  # kill -9: between the COMMIT and the delete
    sqs_proxy.release()
    assert await _left_on(sqs, url) == 2

    again = start_gateway(config, name="again")  # the messages come back: duplicates

    async def emptied() -> bool:
        return await _left_on(sqs, url) == 0

    await until(emptied, 30, what="the queue emptied by the duplicates' deletes")
    token = again.token("read")
    page = await api_get(http, again, token, "/api/v1/events?source=amazon")
    assert sorted((e["external_id"], e["event_type"]) for e in page["data"]) == [
        ("n-camel", "ORDER_CHANGE"),
        ("n-pascal", "ORDER_CHANGE"),
    ]
    metrics = await scrape(http, again.admin)
    assert metrics.value("gateway_source_messages_total", source="amazon", outcome="duplicate") == 2
    await asyncio.sleep(1)  # nothing more comes to either subscriber
    assert sorted(r.body for r in sink.received) == sorted(sent) == sorted(r.body for r in received)
    assert all(r.headers["x-gateway-source"] == "amazon" for r in received)
    published = await read_queue(rabbitmq.url, name)
    assert sorted(m.body for m in published) == sorted(sent)
    assert {m.headers["webhook-id"] for m in published} == {e["id"] for e in page["data"]}

    ready = await api_get(http, again, token, "/readyz")
    assert ready["sources"]["amazon"] == {
        "kind": "sqs",
        "queue": url,
        "state": "reading",
        "error": None,
    }
    sources = await console_page(again, token, "/console/sources")
    assert "sqs queue" in sources and f"<code>{url}</code>" in sources
    for event in page["data"]:  # each event's timeline: one confirmed attempt per subscriber
        timeline = await console_page(again, token, f"/console/events/{event['id']}")
        for subscriber in ("warehouse", "wms"):
            assert f"<strong>{subscriber}</strong>" in timeline
        assert timeline.count('data-status="succeeded"') == 2
        assert timeline.count('<tr class="ok">') == 2


async def test_no_broker_credential_shows_in_logs_answers_or_metrics(
    start_gateway: Callable[..., GatewayProcess],
    database_url: str,
    http: aiohttp.ClientSession,
    sink: Sink,
    rabbitmq: RabbitMQ,
    sqs_server: SqsServer,
    aws_credentials: dict[str, str],
) -> None:
    password = f"pw-{secrets.token_hex(8)}"
    queue = f"orders-{secrets.token_hex(6)}"
    user = f"sources-{secrets.token_hex(4)}"
    await asyncio.to_thread(rabbitmq.ctl, "add_user", user, password)
    await asyncio.to_thread(rabbitmq.ctl, "set_permissions", "-p", "/", user, ".*", ".*", ".*")
    amqp_url = f"amqp://{user}:{password}@127.0.0.1:{rabbitmq.port}/"
    config = base_config(database_url)
    config["brokers"] = [
        {"name": "rabbit", "kind": "amqp", "url": amqp_url},
        {"name": "gone", "kind": "amqp", "url": f"amqp://{user}:{password}@127.0.0.1:9/"},
        {"name": "aws", "kind": "sqs", "region": sqs_server.region,
         "endpoint_url": sqs_server.endpoint_url},
    ]  # fmt: skip
    config["sources"] = [
        {"name": "orders", "scheme": "none", "event_id": "/id",
         "receive": {"kind": "amqp", "broker": "rabbit", "queue": queue}},
        {"name": "lost", "scheme": "none", "receive": {"kind": "amqp", "broker": "gone", "queue": "q"}},
        {"name": "missing", "scheme": "none",
         "receive": {"kind": "sqs", "broker": "aws", "wait_seconds": 1,
                     "queue_url": f"{sqs_server.endpoint_url}/123456789012/not-there"}},
    ]  # fmt: skip
    config["subscribers"] = [{"name": "wms", "url": sink.url, "secret": new_secret()}]
    connection = await aio_pika.connect(rabbitmq.url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True)
        gateway = start_gateway(config)
        message = aio_pika.Message(b'{"id": "o-1"}', content_type="application/json")
        await channel.default_exchange.publish(message, routing_key=queue)
        [delivered] = await sink.wait_for(1)
    assert delivered.body == b'{"id": "o-1"}'

    token = gateway.token("admin")
    ready = await until(
        lambda: _ready_with(http, gateway, "lost", "missing"), 20, what="two degraded sources"
    )
    assert ready["status"] == "ready"
    assert ready["sources"]["orders"]["state"] == "reading"
    async with http.post(f"{gateway.ingress}/webhooks/v1/orders", json={"id": "o-2"}) as posted:
        assert posted.status == 405
        assert posted.headers["Content-Type"] == "application/problem+json"
        refused = await posted.text()

    async with http.get(f"{gateway.admin}/metrics") as metrics:
        exported = await metrics.text()
    assert 'gateway_source_up{kind="amqp",source="lost"} 0.0' in exported
    shown = {
        "webhook answer": refused,
        "readyz": orjson.dumps(ready).decode(),
        "sources": orjson.dumps(await api_get(http, gateway, token, "/api/v1/sources")).decode(),
        "console": await console_page(gateway, token, "/console/sources"),
        "metrics": exported,
    }
    gateway.stop()
    shown["log"] = gateway.logs()
    assert "source lost: cannot read q" in shown["log"]  # its failure is logged, and how
    for where, text in shown.items():
        assert password not in text, where
        assert aws_credentials["AWS_SECRET_ACCESS_KEY"] not in text, where


async def _ready_with(
    http: aiohttp.ClientSession, gateway: GatewayProcess, *names: str
) -> dict[str, Any] | None:
    async with http.get(f"{gateway.admin}/readyz") as answer:
        assert answer.status == 200
        ready: dict[str, Any] = await answer.json()
    degraded = ready.get("degraded", [])
    return ready if all(any(d.startswith(f"{n}: ") for d in degraded) for n in names) else None
