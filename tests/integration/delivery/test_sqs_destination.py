"""Subscribers that deliver into Amazon SQS, against an emulator of its wire protocol.

The emulator is the session's (``sqs_server`` fixture); each test makes queues of its own.
Production runs against AWS: the client, its credential chain and its calls are the same.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.brokers.config import SqsBroker
from gateway.domain.broker_destination import SqsDestination
from gateway.store.database import Database
from gateway.store.records import Subscriber
from testkit.consumers import sqs_messages, sqs_queue
from testkit.factories import event, store_events, subscriber
from testkit.polling import until
from testkit.sqs import SqsServer
from tests.integration.delivery.conftest import StartDispatcher, delivery_config


@pytest.fixture
def sqs(sqs_server: SqsServer, aws_credentials: dict[str, str]) -> SqsServer:
    """The session's SQS emulator, with its credentials where the AWS chain reads them."""
    return sqs_server


def brokers(server: SqsServer) -> tuple[SqsBroker, ...]:
    return (SqsBroker(name="aws", region=server.region, endpoint_url=server.endpoint_url),)


async def into_sqs(db: Database, queue_url: str, name: str = "wms", **spec: Any) -> Subscriber:
    destination = SqsDestination(broker="aws", queue_url=queue_url)
    return await subscriber(db, name, url=None, destination=destination, **spec)


async def finished(db: Database, count: int) -> bool:
    done = await db.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE status IN ('succeeded', 'dead')"
    )
    return bool(done == count)


async def test_a_delivery_into_a_standard_queue_carries_the_body_and_signed_attributes(
    db: Database,
    start_dispatcher: StartDispatcher,
    sqs: SqsServer,
) -> None:
    queue_url = await sqs_queue(sqs, f"orders-{secrets.token_hex(4)}")
    sub = await into_sqs(db, queue_url, forward_headers=["x-test"], headers={"X-Tenant": "eu"})
    body = orjson.dumps({"order": 1, "note": "größe"})
    (stored,) = await store_events(db, [event("o-1", body=body)])
    await start_dispatcher(delivery_config(), brokers=brokers(sqs))
    await until(lambda: finished(db, 1))
    (message,) = await sqs_messages(sqs, queue_url, 1)
    assert message.body == body
    assert message.content_type == "application/json"
    assert message.headers["webhook-id"] == stored.event_id
    assert message.headers["x-gateway-source"] == "shop"
    assert message.headers["x-gateway-event-type"] == "orders/create"
    assert message.headers["X-Tenant"] == "eu" and message.headers["x-test"] == "1"
    Webhook(sub.secret).verify(message.body, message.headers)  # a consumer can verify it
    status = await db.pool.fetchval("SELECT status FROM deliveries")
    assert status == "succeeded"


async def test_a_body_sqs_cannot_carry_as_text_goes_base64_and_still_verifies(
    db: Database,
    start_dispatcher: StartDispatcher,
    sqs: SqsServer,
) -> None:
    queue_url = await sqs_queue(sqs, f"bytes-{secrets.token_hex(4)}")
    sub = await into_sqs(db, queue_url)
    body = b"\x00\xff binary \x01"
    await store_events(db, [event("o-1", body=body)])
    await start_dispatcher(delivery_config(), brokers=brokers(sqs))
    await until(lambda: finished(db, 1))
    (message,) = await sqs_messages(sqs, queue_url, 1)
    assert message.body == body  # decoded by the consumer, as its attribute says
    when = datetime.fromtimestamp(int(message.headers["webhook-timestamp"]), UTC)
    signed = Webhook(sub.secret).sign(message.headers["webhook-id"], when, body)
    assert message.headers["webhook-signature"] == signed


async def test_a_fifo_queue_keeps_each_keys_order_for_an_ordered_subscriber(
    db: Database,
    start_dispatcher: StartDispatcher,
    sqs: SqsServer,
) -> None:
    queue_url = await sqs_queue(sqs, f"orders-{secrets.token_hex(4)}.fifo")
    await into_sqs(db, queue_url, ordered=True)
    events = [event(f"{key}-{n}", key=key) for n in range(10) for key in ("cust-1", "cust 2")]
    stored = await store_events(db, events)
    await start_dispatcher(delivery_config(concurrency=8), brokers=brokers(sqs))
    await until(lambda: finished(db, 20))
    received = await sqs_messages(sqs, queue_url, 20)
    by_group: dict[str, list[str]] = {}
    for message in received:
        assert message.group is not None
        by_group.setdefault(message.group, []).append(orjson.loads(message.body)["order"])
        assert message.dedup == message.headers["webhook-id"]  # the event's id
    assert by_group["cust-1"] == [f"cust-1-{n}" for n in range(10)]
    (hashed,) = set(by_group) - {"cust-1"}  # a key SQS would refuse (a space) is hashed
    assert hashed.startswith("sha256:")
    assert by_group[hashed] == [f"cust 2-{n}" for n in range(10)]
    assert len({r.event_id for r in stored}) == len(received)


async def test_deliveries_in_hand_for_one_queue_go_in_batches_of_up_to_ten(
    db: Database,
    start_dispatcher: StartDispatcher,
    sqs: SqsServer,
) -> None:
    queue_url = await sqs_queue(sqs, f"bulk-{secrets.token_hex(4)}")
    await into_sqs(db, queue_url)
    await store_events(db, [event(f"o-{n}") for n in range(45)])
    config = delivery_config(concurrency=64, claim_batch=64)
    dispatcher = await start_dispatcher(config, brokers=brokers(sqs))
    await until(lambda: finished(db, 45))
    (sender,) = dispatcher.destinations._senders.values()
    calls: int = sender.calls  # type: ignore[attr-defined]
    assert 5 <= calls <= 15  # at least 5 batches of at most 10; far fewer than one each
    received = await sqs_messages(sqs, queue_url, 45)
    assert sorted(orjson.loads(m.body)["order"] for m in received) == sorted(
        f"o-{n}" for n in range(45)
    )


async def test_a_queue_that_does_not_exist_is_an_unroutable_attempt_retried_by_policy(
    db: Database,
    start_dispatcher: StartDispatcher,
    sqs: SqsServer,
) -> None:
    name = f"missing-{secrets.token_hex(4)}"
    queue_url = f"{sqs.endpoint_url}/123456789012/{name}"
    await into_sqs(db, queue_url, retry_schedule=[0.1], max_attempts=3)
    await store_events(db, [event("o-1")])
    await start_dispatcher(delivery_config(), brokers=brokers(sqs))
    await until(lambda: finished(db, 1))
    rows = await db.pool.fetch("SELECT outcome, error FROM delivery_attempts ORDER BY attempt")
    assert [r["outcome"] for r in rows] == ["unroutable"] * 3
    assert "SQS has no such queue" in rows[0]["error"]
    assert await db.pool.fetchval("SELECT status FROM deliveries") == "dead"
