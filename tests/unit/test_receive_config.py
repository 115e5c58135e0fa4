"""A source that reads a queue (``receive``): checked as the file is read, its broker
named and of its kind, and nothing of a webhook's it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.config.schema import Config
from gateway.domain.receive import AmqpReceive, SqsReceive
from testkit.readme import readme_block

BROKERS = """
[[brokers]]
name = "aws"
kind = "sqs"
region = "eu-central-1"

[[brokers]]
name = "rabbit"
kind = "amqp"
url = "amqp://app:s3cret@rabbit.internal:5672/"
"""
QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/sp-api"


def _load(tmp_path: Path, sources: str) -> Config:
    path = tmp_path / "gateway.toml"
    path.write_text(BROKERS + sources)
    return load_config(path, env={})


def test_sources_of_both_kinds_are_read(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        f"""
[[sources]]
name = "amazon"
scheme = "amazon-sp-api"
receive = {{ kind = "sqs", broker = "aws", queue_url = "{QUEUE}", visibility_timeout_seconds = 60 }}

[[sources]]
name = "orders"
scheme = "none"
event_id = "/id"
receive = {{ kind = "amqp", broker = "rabbit", queue = "orders", prefetch = 50 }}
""",
    )
    amazon, orders = config.sources
    assert amazon.receive == SqsReceive(
        broker="aws", queue_url=QUEUE, visibility_timeout_seconds=60
    )
    assert (amazon.receive.max_in_flight, amazon.receive.wait_seconds) == (10, 20)
    assert orders.receive == AmqpReceive(broker="rabbit", queue="orders", prefetch=50)


@pytest.mark.parametrize(
    ("receive", "reason"),
    [
        (f'{{ kind = "sqs", broker = "nope", queue_url = "{QUEUE}" }}', "no broker named 'nope'"),
        (f'{{ kind = "sqs", broker = "rabbit", queue_url = "{QUEUE}" }}', "of kind 'amqp'"),
        ('{ kind = "amqp", broker = "aws", queue = "q" }', "of kind 'sqs', not 'amqp'"),
    ],
)
def test_a_broker_that_is_missing_or_of_another_kind_is_refused_naming_the_key(
    tmp_path: Path, receive: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f'[[sources]]\nname = "s"\nscheme = "none"\nreceive = {receive}\n')
    assert caught.value.file.endswith("gateway.toml")
    assert caught.value.key == "sources[0].receive.broker"
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('scheme = "amazon-sp-api"', "sources[0].receive"),
        (
            f'scheme = "amazon-sp-api"\nsecret = "x"\n'
            f'receive = {{ kind = "sqs", broker = "aws", queue_url = "{QUEUE}" }}',
            "sources[0].secret",
        ),
        (
            'scheme = "none"\nallowed_cidrs = ["10.0.0.0/8"]\n'
            'receive = { kind = "amqp", broker = "rabbit", queue = "q" }',
            "sources[0].allowed_cidrs",
        ),
        (
            f'scheme = "none"\nreceive = {{ kind = "sqs", broker = "aws", queue_url = "{QUEUE}", '
            "wait_seconds = 21 }",
            "sources[0].receive.wait_seconds",
        ),
        (
            'scheme = "none"\nreceive = { kind = "sqs", broker = "aws", queue_url = "sp-api" }',
            "sources[0].receive.queue_url",
        ),
        (
            'scheme = "none"\nreceive = { kind = "amqp", broker = "rabbit", queue = "q", '
            "prefetch = 0 }",
            "sources[0].receive.prefetch",
        ),
        (
            'scheme = "none"\nreceive = { kind = "kafka", broker = "aws" }',
            "sources[0].receive.kind",
        ),
    ],
)
def test_what_a_queue_source_cannot_use_is_refused_naming_the_key(
    tmp_path: Path, table: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f'[[sources]]\nname = "s"\n{table}\n')
    assert caught.value.key == key, caught.value


def test_sns_certificate_hosts_default_to_amazons_and_take_only_host_patterns(
    tmp_path: Path,
) -> None:
    assert Config().ingress.sns_certificate_hosts == (
        "sns.*.amazonaws.com",
        "sns.*.amazonaws.com.cn",
    )
    path = tmp_path / "gateway.toml"
    path.write_text('[ingress]\nsns_certificate_hosts = ["https://sns.example/"]\n')
    with pytest.raises(ConfigError, match=r"ingress.sns_certificate_hosts\[0\]"):
        load_config(path, env={})


def test_the_readmes_queue_sources_are_a_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(readme_block("Read from a queue", "toml"))
    config = load_config(path, env={"RABBITMQ_URL": "amqp://erp:pw@rabbit.internal:5672/erp"})
    assert [(s.name, s.receive and s.receive.kind) for s in config.sources] == [
        ("amazon", "sqs"),
        ("erp-orders", "amqp"),
    ]
