"""The readers follow the sources: one added through the API is read, one changed is read
anew, one removed is no longer read and leaves no gauge behind to alert on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.brokers.config import SqsBroker
from gateway.config import SourceConfig
from gateway.domain.receive import SqsReceive
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.source import Source
from testkit.amazon import sp_api_notification
from testkit.polling import until
from tests.integration.sources.conftest import Reading


def _source(url: str, broker: str = "aws") -> Source:
    config = apply_preset(
        SourceConfig(
            name="amazon",
            scheme="amazon-sp-api",
            receive=SqsReceive(broker=broker, queue_url=url, wait_seconds=1),
        )
    )
    return Source(config, build_verifier(config))


def _gauges(gateway: Reading) -> list[dict[str, str]]:
    (family,) = [f for f in gateway.metrics.registry.collect() if f.name == "gateway_source_up"]
    return [sample.labels for sample in family.samples]


async def test_a_source_added_changed_and_removed_is_read_read_anew_and_let_go(
    sqs: Any, queue_name: str, sqs_broker: SqsBroker, reading: Callable[..., Reading]
) -> None:
    first = (await sqs.create_queue(QueueName=f"{queue_name}-1"))["QueueUrl"]
    second = (await sqs.create_queue(QueueName=f"{queue_name}-2"))["QueueUrl"]
    gateway = await reading((), (sqs_broker,)).start()
    assert gateway.readers is not None
    sources: dict[str, Source] = gateway.readers.sources  # type: ignore[assignment]
    assert gateway.readers.statuses() == {}

    sources["amazon"] = _source(first)  # made through the API
    await gateway.readers.follow()
    await sqs.send_message(QueueUrl=first, MessageBody=sp_api_notification("n-1").decode())
    await until(lambda: gateway.status("amazon").stored == 1, 20, what="read from the first")

    sources["amazon"] = _source(second)
    await gateway.readers.follow()
    assert gateway.status("amazon").queue == second
    await sqs.send_message(QueueUrl=second, MessageBody=sp_api_notification("n-2").decode())
    await until(lambda: gateway.status("amazon").stored == 1, 20, what="read from the second")

    sources["amazon"] = _source(second, broker="gone")  # its broker left the file
    await gateway.readers.follow()
    assert gateway.status("amazon").state == "unreachable"
    assert "no broker named 'gone'" in (gateway.status("amazon").error or "")
    assert _gauges(gateway) == [{"source": "amazon", "kind": "sqs"}]

    del sources["amazon"]
    await gateway.readers.follow()
    assert gateway.readers.statuses() == {}
    assert _gauges(gateway) == []
    assert sorted(e.external_id for e in await gateway.events("amazon")) == ["n-1", "n-2"]
