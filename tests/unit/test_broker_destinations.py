"""Broker destinations as settings: the routing-key template, the queue URL, one of url or
destination, the brokers they name; and the message a consumer gets from a request."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson
import pytest

from gateway.config import ConfigError, load_config
from gateway.delivery.destinations.message import split_headers
from gateway.delivery.destinations.sqs import message_group, sqs_message
from gateway.delivery.request import Outbound
from gateway.domain.broker_destination import AmqpDestination, SqsDestination, template
from gateway.domain.subscriber import SubscriberSettings
from gateway.domain.validation import Invalid
from gateway.observability import ATTEMPT_OUTCOMES, attempt_outcome
from gateway.runtime.reconcile import check_broker_libraries
from testkit.factories import claimed_delivery
from testkit.readme import readme_block

EVENT = {
    "source": "shop",
    "type": "orders/create",
    "id": "evt_1",
    "ordering_key": None,
    "body": {"order": {"id": 7, "paid": True, "lines": [{"sku": "A-1"}]}, "note": None},
}
SQS_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/orders"
SECRET = "whsec_" + "A" * 32


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("orders", "orders"),
        ("", ""),
        ("{source}.{type}", "shop.orders/create"),
        ("x.{id}", "x.evt_1"),
        ("{ordering_key}", ""),  # an event without one
        ("{body.order.id}", "7"),
        ("{body.order.paid}", "true"),
        ("{body.order.lines.0.sku}", "A-1"),
        ("{body.order.lines.5.sku}", ""),
        ("{body.order}", ""),  # an object renders as nothing
        ("{body.note}.{body.missing.path}", "."),
        ("{ type }", "orders/create"),
    ],
)
def test_a_routing_key_template_fills_in_the_events_fields(text: str, key: str) -> None:
    assert template(text).render(EVENT) == key


def test_a_routing_key_is_cut_at_255_bytes_on_a_character_boundary() -> None:
    key = template("ü{body.note}" * 200).render(EVENT)
    assert len(key.encode()) <= 255 and key == "ü" * 127


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{typ}", "{typ} is not a placeholder"),
        ("{body}", "{body} is not a placeholder"),
        ("{body.}", "{body.} is not a placeholder"),
        ("{headers.x}", "{headers.x} is not a placeholder"),
        ("a}b", "has a { or } that opens or closes no placeholder"),
        ("{type", "has a { or } that opens or closes no placeholder"),
    ],
)
def test_a_routing_key_template_that_cannot_be_filled_in_is_refused_when_saved(
    text: str, reason: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert({"kind": "amqp", "broker": "rabbit", "routing_key": text}, AmqpDestination)
    assert isinstance(caught.value.__cause__, Invalid)
    assert caught.value.__cause__.field == "routing_key"
    assert caught.value.__cause__.reason.startswith(reason)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://sqs.example/1/q",
        "https://sqs.example",
        "https://sqs.example/",
        "https://key:secret@sqs.example/1/q",
        "https://sqs.example/1/q?Action=SendMessage",
    ],
)
def test_a_queue_url_that_names_no_queue_is_refused(url: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="queue_url"):
        msgspec.convert({"kind": "sqs", "broker": "aws", "queue_url": url}, SqsDestination)


def test_a_queue_named_dot_fifo_is_a_fifo_queue() -> None:
    assert SqsDestination(broker="aws", queue_url=SQS_URL + ".fifo").fifo
    assert not SqsDestination(broker="aws", queue_url=SQS_URL).fifo


def test_a_subscriber_has_a_url_or_a_destination_and_never_both_nor_neither() -> None:
    amqp = {"kind": "amqp", "broker": "rabbit", "routing_key": "orders"}
    ok = msgspec.convert({"name": "wms", "destination": amqp}, SubscriberSettings)
    assert ok.url is None and isinstance(ok.destination, AmqpDestination)
    for given, field in (
        ({"name": "wms"}, "url"),
        ({"name": "wms", "url": "https://wms.example/h", "destination": amqp}, "destination"),
        ({"name": "wms", "destination": amqp, "https_only": True}, "https_only"),
    ):
        with pytest.raises(msgspec.ValidationError) as caught:
            msgspec.convert(given, SubscriberSettings)
        assert isinstance(caught.value.__cause__, Invalid)
        assert caught.value.__cause__.field == field


def config_with(tmp_path: Path, destination: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[[brokers]]\nname = "rabbit"\nkind = "amqp"\nurl = "amqp://gw:pw@rabbit.internal/"\n'
        '[[brokers]]\nname = "aws"\nkind = "sqs"\n'
        f'[[subscribers]]\nname = "wms"\nsecret = "{SECRET}"\ndestination = {destination}\n'
    )
    return path


@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        (
            '{kind = "amqp", broker = "rabit", routing_key = "o"}',
            "no broker named 'rabit' in [[brokers]] (brokers of kind 'amqp': 'rabbit')",
        ),
        (
            '{kind = "amqp", broker = "aws", routing_key = "o"}',
            "broker 'aws' is of kind 'sqs', not 'amqp'",
        ),
        (
            f'{{kind = "sqs", broker = "rabbit", queue_url = "{SQS_URL}"}}',
            "broker 'rabbit' is of kind 'amqp', not 'sqs'",
        ),
    ],
)
def test_a_destination_naming_a_broker_the_file_has_not_of_its_kind_names_file_and_key(
    tmp_path: Path, destination: str, reason: str
) -> None:
    path = config_with(tmp_path, destination)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: subscribers[0].destination.broker: {reason}"


def test_a_broker_whose_library_is_not_installed_fails_start_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(
        config_with(tmp_path, '{kind = "amqp", broker = "rabbit", routing_key = "o"}')
    )
    check_broker_libraries(config)  # installed here
    monkeypatch.setitem(sys.modules, "aio_pika", None)  # as an install without the extra
    with pytest.raises(ConfigError) as caught:
        check_broker_libraries(config)
    assert caught.value.key == "brokers[0].kind"
    assert caught.value.reason == (
        "a broker of kind 'amqp' needs aio_pika: pip install 'webhook-gateway[rabbitmq]'"
    )


def test_the_request_splits_into_a_messages_content_type_core_and_other_headers() -> None:
    parts = split_headers(
        {"X-Tenant": "eu", "Content-Type": "application/json", "webhook-id": "evt_1",
         "x-gateway-source": "shop", "webhook-signature": "v1,x"}
    )  # fmt: skip
    assert parts.content_type == "application/json"
    assert list(parts.core) == ["webhook-id", "webhook-signature", "x-gateway-source"]
    assert parts.other == {"X-Tenant": "eu"}


def test_an_sqs_message_keeps_to_ten_attributes_whatever_the_request_carries() -> None:
    now = datetime.now(UTC)
    destination = SqsDestination(broker="aws", queue_url=SQS_URL + ".fifo")
    claimed = claimed_delivery(now, url=None, destination=destination, ordering_key="c-1")
    headers = {f"X-Custom-{n}": str(n) for n in range(20)}
    headers |= {"Content-Type": "application/json", "webhook-id": "evt_1", "webhook-timestamp": "1",
                "webhook-signature": "v1,x", "x-gateway-source": "shop", "x-gateway-event-type": "t",
                "x-gateway-delivery-id": "dlv_1", "x-gateway-attempt": "1",
                "x-gateway-payload": "thin"}  # fmt: skip
    message = sqs_message(claimed, Outbound(b"{}", headers))
    attributes = message["MessageAttributes"]
    assert len(attributes) == 10
    assert orjson.loads(attributes["x-gateway-headers"]["StringValue"]) == {
        f"X-Custom-{n}": str(n) for n in range(20)
    }
    assert message["MessageGroupId"] == "c-1" and message["MessageDeduplicationId"] == "evt_1"
    binary = sqs_message(claimed, Outbound(b"\xff\x00", {"Content-Type": "image/png"}))
    assert binary["MessageBody"] == "/wA="
    assert binary["MessageAttributes"]["content-transfer-encoding"]["StringValue"] == "base64"


@pytest.mark.parametrize(
    ("key", "group"),
    [
        ("customer-7", "customer-7"),
        (None, "evt_1"),  # no order is promised without a key: a group of its own
        ("x" * 128, "x" * 128),
    ],
)
def test_a_fifo_group_is_the_ordering_key_else_the_event(key: str | None, group: str) -> None:
    assert message_group(claimed_delivery(datetime.now(UTC), ordering_key=key)) == group


@pytest.mark.parametrize("key", ["x" * 129, "kunde 7", "kündin"])
def test_an_ordering_key_sqs_would_refuse_is_grouped_by_its_digest(key: str) -> None:
    group = message_group(claimed_delivery(datetime.now(UTC), ordering_key=key))
    assert group.startswith("sha256:") and len(group) == 71
    assert group == message_group(claimed_delivery(datetime.now(UTC), ordering_key=key))


@pytest.mark.parametrize("outcome", ["broker_nack", "unroutable", "broker_error"])
def test_a_brokers_failures_are_labels_of_their_own(outcome: str) -> None:
    assert attempt_outcome(outcome) == outcome and outcome in ATTEMPT_OUTCOMES


def test_the_readmes_broker_example_is_a_config_the_gateway_reads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(readme_block("Deliver into RabbitMQ or SQS", "toml"))
    env = {"RABBITMQ_URL": "amqp://gw:pw@rabbit.internal:5672/wms", "WAREHOUSE_SECRET": SECRET,
           "ERP_SECRET": SECRET}  # fmt: skip
    config = load_config(path, env=env)
    warehouse, erp = config.subscribers
    assert isinstance(warehouse.destination, AmqpDestination)
    assert isinstance(erp.destination, SqsDestination) and erp.destination.fifo


def test_the_gateway_loads_without_the_broker_libraries() -> None:
    code = (
        "import sys\n"
        "for name in ('aio_pika', 'aiormq', 'aiobotocore', 'botocore'):\n"
        "    sys.modules[name] = None  # as an install without the extras\n"
        "import gateway.cli, gateway.runtime.services, gateway.delivery.dispatcher\n"
        "import gateway.api.routes, gateway.console.subscriber_page\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
