"""Both paths hand a webhook to the one intake: what it answers, counts and logs is the
same whichever path read the request, down to an error nobody expected."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from gateway.config import SourceConfig
from gateway.domain.receive import AmqpReceive
from gateway.ingress.schemes import build_verifier
from gateway.ingress.source import Source
from tests.integration.ingress.conftest import StartIngress


class BrokenVerifier:
    """A verifier with a bug in it."""

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        raise RuntimeError("a bug")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "gateway.access"
    ]


async def test_an_unexpected_error_is_a_500_counted_and_logged_once_on_either_path(
    start_ingress: StartIngress, caplog: pytest.LogCaptureFixture
) -> None:
    config = SourceConfig(name="buggy", scheme="none")
    gateway = await start_ingress(config)
    gateway.state.sources["buggy"] = Source(config, BrokenVerifier())  # type: ignore[index]
    caplog.set_level(logging.INFO)

    answer = await gateway.post("buggy", b"{}", {"Content-Type": "application/json"})

    assert answer.status == 500
    assert answer.body["detail"] == "internal error; it has been logged"
    assert gateway.counted("buggy", "error") == 1
    assert gateway.state.active == 0
    assert [line["status"] for line in access_lines(caplog)] == [500]
    failures = [r for r in caplog.records if r.name == "gateway.http"]
    assert [r.getMessage() for r in failures] == ["unhandled error on POST /webhooks/v1/buggy"]
    assert failures[0].exc_info is not None
    assert await gateway.stored() == 0


async def test_the_fast_path_answers_the_woocommerce_ping_without_aiohttp(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="woo", scheme="woocommerce", secret="s"))
    fast = gateway.state.config.fast_path
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    ping = await gateway.post("woo", b"webhook_id=42", form)

    assert ping.status == 200
    assert ping.body == {"ping": True}
    assert gateway.counted("woo", "ping") == 1
    assert gateway.seen_by_aiohttp == (0 if fast else 1)
    assert await gateway.stored() == 0


async def test_a_source_that_reads_a_queue_takes_no_webhooks_on_either_path(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress()
    receive = AmqpReceive(broker="rabbit", queue="orders")
    config = SourceConfig(name="orders", scheme="none", receive=receive)
    gateway.state.sources["orders"] = Source(config, build_verifier(config))  # type: ignore[index]

    answer = await gateway.post("orders", b'{"id": 1}', {"Content-Type": "application/json"})

    assert answer.status == 405
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.headers["Allow"] == ""
    assert answer.body["detail"] == (
        "source 'orders' reads its events from a queue (amqp); it takes no webhooks"
    )
    assert gateway.counted("orders", "source-reads-a-queue") == 1
    assert await gateway.stored() == 0
