"""The ``[[brokers]]`` table: named connections, checked as the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.brokers.config import AmqpBroker, hidden_url
from gateway.config import ConfigError, load_config


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return load_config(path, env={"RABBITMQ_URL": "amqp://app:s3cret@rabbit.internal:5672/wms"})


def test_brokers_of_both_kinds_are_read_with_their_url_from_the_environment(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[[brokers]]
name = "rabbit"
kind = "amqp"
url = "${RABBITMQ_URL}"

[[brokers]]
name = "aws"
kind = "sqs"
region = "eu-central-1"
""",
    )
    rabbit, aws = config.brokers
    assert rabbit.kind == "amqp" and rabbit.url == "amqp://app:s3cret@rabbit.internal:5672/wms"
    assert aws.kind == "sqs" and aws.region == "eu-central-1" and aws.endpoint_url is None
    assert config.broker("aws") is aws and config.broker("kafka") is None


def test_a_broker_of_an_unknown_kind_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, '[[brokers]]\nname = "k"\nkind = "kafka"\n')
    assert "brokers[0].kind" in str(caught.value) and "gateway.toml" in str(caught.value)


def test_two_brokers_of_one_name_are_refused_naming_the_second(tmp_path: Path) -> None:
    text = '[[brokers]]\nname = "aws"\nkind = "sqs"\n' * 2
    with pytest.raises(ConfigError, match=r"brokers\[1\]\.name: duplicate broker name 'aws'"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('kind = "amqp"\nurl = "http://rabbit.internal/"', "brokers[0].url"),
        ('kind = "sqs"\nendpoint_url = "ftp://sqs.internal/"', "brokers[0].endpoint_url"),
        (
            'kind = "sqs"\nendpoint_url = "https://key:secret@sqs.internal/"',
            "brokers[0].endpoint_url",
        ),
    ],
)
def test_a_broker_address_that_cannot_be_used_is_refused(
    tmp_path: Path, table: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        _load(tmp_path, f'[[brokers]]\nname = "b"\n{table}\n')


def test_an_amqp_brokers_password_never_shows_in_its_repr() -> None:
    broker = AmqpBroker(name="rabbit", url="amqps://app:s3cret@rabbit.internal/wms")
    assert "s3cret" not in repr(broker) and "s3cret" not in str(broker)
    assert "app:[hidden]@rabbit.internal" in repr(broker)
    assert hidden_url("amqp://rabbit.internal/") == "amqp://rabbit.internal/"
