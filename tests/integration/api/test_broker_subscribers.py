"""Subscribers into brokers through the admin API: the broker is one the config file
declares, of the destination's kind; a subscriber moves between a URL and a broker; its
test event is published; and no answer ever holds a broker's address or credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from gateway.brokers.config import AmqpBroker, SqsBroker
from gateway.store.database import Database
from testkit.consumers import declare_queue, read_queue
from testkit.processes import free_port
from testkit.rabbitmq import RabbitMQ
from testkit.tokens import bearer
from tests.integration.api.conftest import admin_client, api_config, authenticator_for

PASSWORD = "rabbit-pw-7f3c9e"
AMQP = {"kind": "amqp", "broker": "rabbit", "routing_key": "orders.{type}"}
SQS = {"kind": "sqs", "broker": "aws", "queue_url": "https://sqs.eu-central-1.amazonaws.com/1/q"}


async def serving(db: Database, url: str) -> TestClient:  # type: ignore[type-arg]
    """The admin API of a gateway whose file declares an AMQP broker at ``url`` and an SQS
    broker."""
    brokers = (AmqpBroker(name="rabbit", url=url), SqsBroker(name="aws", region="eu-west-1"))
    config = msgspec.structs.replace(api_config(), brokers=brokers)
    return await admin_client(db, config, authenticator_for(db, config))


@pytest.fixture
async def api(db: Database) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    # Nothing listens there: only the test event would connect, and it fails.
    client = await serving(db, f"amqp://gw:{PASSWORD}@127.0.0.1:{free_port()}/")
    yield client
    await client.close()


async def post(api: TestClient, token: Callable[..., str], body: dict[str, Any]) -> Any:  # type: ignore[type-arg]
    response = await api.post("/api/v1/subscribers", json=body, headers=bearer(token("write")))
    return response.status, await response.json()


async def test_a_subscriber_into_a_declared_broker_is_registered_and_shown_without_credentials(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    status, created = await post(api, token, {"name": "wms", "destination": AMQP})
    assert status == 201, created
    assert created["url"] is None
    assert created["destination"] == {**AMQP, "exchange": ""}
    status, queued = await post(api, token, {"name": "erp", "destination": SQS})
    assert status == 201, queued
    for path in ("/api/v1/subscribers", f"/api/v1/subscribers/{created['id']}"):
        response = await api.get(path, headers=bearer(token("read")))
        text = await response.text()
        assert response.status == 200 and "orders.{type}" in text
        assert PASSWORD not in text and "127.0.0.1" not in text


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        (
            AMQP | {"broker": "rabit"},
            "no broker named 'rabit' in [[brokers]] (brokers of kind 'amqp': 'rabbit')",
        ),
        (AMQP | {"broker": "aws"}, "broker 'aws' is of kind 'sqs', not 'amqp'"),
        (
            SQS | {"broker": "kafka"},
            "no broker named 'kafka' in [[brokers]] (brokers of kind 'sqs': 'aws')",
        ),
    ],
)
async def test_a_broker_the_file_does_not_declare_of_that_kind_is_a_422_naming_the_field(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    destination: dict[str, str],
    message: str,
) -> None:
    status, problem = await post(api, token, {"name": "wms", "destination": destination})
    assert status == 422
    assert problem["errors"] == [{"field": "destination.broker", "message": message}]


async def test_a_patch_moves_a_subscriber_between_a_url_and_a_broker(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    _, sub = await post(
        api, token, {"name": "wms", "url": "https://127.0.0.1:9/h", "https_only": True}
    )
    path, headers = f"/api/v1/subscribers/{sub['id']}", bearer(token("write"))
    refused = await api.patch(path, json={"destination": AMQP | {"broker": "x"}}, headers=headers)
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "destination.broker"
    bad_key = await api.patch(
        path, json={"destination": AMQP | {"routing_key": "{x}"}}, headers=headers
    )
    assert (await bad_key.json())["errors"][0]["field"] == "destination.routing_key"
    moved = await api.patch(path, json={"destination": AMQP}, headers=headers)
    assert moved.status == 200, await moved.text()
    body = await moved.json()
    assert body["url"] is None and body["destination"]["broker"] == "rabbit"
    assert body["https_only"] is False  # a URL's setting, gone with the URL
    back = await api.patch(path, json={"url": "https://127.0.0.1:9/h"}, headers=headers)
    body = await back.json()
    assert back.status == 200 and body["destination"] is None
    assert body["url"] == "https://127.0.0.1:9/h"


async def test_a_test_event_to_an_unreachable_broker_fails_without_showing_its_password(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    _, sub = await post(api, token, {"name": "wms", "destination": AMQP, "timeout_seconds": 5})
    response = await api.post(
        f"/api/v1/subscribers/{sub['id']}/test", headers=bearer(token("write"))
    )
    text = await response.text()
    assert response.status == 200, text
    result = await response.json()
    assert result["ok"] is False and result["outcome"] == "connection_error"
    assert PASSWORD not in text


async def test_a_test_event_is_published_into_the_broker(
    db: Database, token: Callable[..., str], rabbitmq: RabbitMQ
) -> None:
    await declare_queue(rabbitmq.url, "pings.webhook-gateway.ping")
    api = await serving(db, rabbitmq.url)
    try:
        _, sub = await post(
            api, token, {"name": "wms", "destination": AMQP | {"routing_key": "pings.{type}"}}
        )
        response = await api.post(
            f"/api/v1/subscribers/{sub['id']}/test", headers=bearer(token("write"))
        )
        result = await response.json()
    finally:
        await api.close()
    assert result["ok"] is True and result["outcome"] == "success", result
    (message,) = await read_queue(rabbitmq.url, "pings.webhook-gateway.ping")
    assert message.headers["webhook-id"].startswith("ping_")
    assert message.headers["x-gateway-event-type"] == "webhook-gateway.ping"
