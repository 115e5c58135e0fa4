"""A queued message meets the checks a webhook meets where they apply: its source's
scheme and content types, the body limit; the broker's id of the message dedups it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.config import SourceConfig, WriterConfig
from gateway.domain.receive import AmqpReceive
from gateway.ingress.messages import MessageIntake, Poisoned, QueuedMessage
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.sns import SnsCertificates
from gateway.ingress.source import Source
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.observability.export import ExporterProcess
from gateway.observability.tracing import Tracing
from gateway.store.database import Database
from gateway.store.events import get_event
from testkit.amazon import sp_api_notification
from testkit.otlp import Collector

RECEIVE = AmqpReceive(broker="rabbit", queue="orders")


def _source(**fields: Any) -> Source:
    config = apply_preset(SourceConfig(name="orders", receive=RECEIVE, **fields))
    return Source(config, build_verifier(config))


@pytest.fixture
async def intake(db: Database) -> AsyncIterator[MessageIntake]:
    writer = GroupCommitWriter(db, WriterConfig(), Metrics(), ack_timeout=5)
    writer.start()
    yield MessageIntake(writer, SnsCertificates(()), max_body_bytes=1024)
    await writer.close()


async def test_a_message_delivered_again_is_stored_once_by_the_brokers_id_for_it(
    intake: MessageIntake, db: Database
) -> None:
    source = _source(scheme="none")
    message = QueuedMessage("m-1", {}, b'{"n": 1}')
    first = await intake.take(source, message)
    again = await intake.take(source, message)
    assert (first.duplicate, again.duplicate, again.event_id) == (False, True, first.event_id)
    stored = await get_event(db, first.event_id)
    assert (stored.external_id, stored.content_type) == ("m-1", "application/json")
    assert stored.headers["queue-message-id"] == "m-1"


async def test_the_sources_own_event_id_wins_over_the_brokers_id(
    intake: MessageIntake, db: Database
) -> None:
    source = _source(scheme="none", event_id="/id")
    one = await intake.take(source, QueuedMessage("m-1", {}, b'{"id": "e-1"}'))
    two = await intake.take(source, QueuedMessage("m-2", {}, b'{"id": "e-1"}'))
    assert two.duplicate and two.event_id == one.event_id


async def test_a_signed_message_verifies_by_its_sources_scheme(intake: MessageIntake) -> None:
    source = _source(scheme="hmac", secret="s3cret-for-tests", signature_header="X-Signature")
    body = b'{"n": 1}'
    good = hmac.new(b"s3cret-for-tests", body, hashlib.sha256).hexdigest()
    stored = await intake.take(source, QueuedMessage("m-1", {"X-Signature": good}, body))
    assert not stored.duplicate
    with pytest.raises(Poisoned, match="signature"):
        await intake.take(source, QueuedMessage("m-2", {"X-Signature": "00" * 32}, body))


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, b"x" * 1025, "exceeds 1024 bytes"),
        ({"Content-Encoding": "gzip"}, b"{}", "unencoded"),
        ({"Content-Type": "text/plain"}, b"{}", "not accepted"),
    ],
)
async def test_what_no_check_would_pass_is_poison(
    intake: MessageIntake, headers: dict[str, str], body: bytes, reason: str
) -> None:
    source = _source(scheme="none", content_types=("application/json",))
    with pytest.raises(Poisoned, match=reason):
        await intake.take(source, QueuedMessage("m-1", headers, body))


async def test_an_sp_api_message_cannot_claim_an_id_or_a_type_the_notification_does_not_hold(
    intake: MessageIntake, db: Database
) -> None:
    source = _source(scheme="amazon-sp-api")
    claimed = {"sp-api-notification-id": "forged", "sp-api-notification-type": "FORGED"}
    result = await intake.take(source, QueuedMessage("m-1", claimed, sp_api_notification("n-1")))
    stored = await get_event(db, result.event_id)
    assert (stored.external_id, stored.event_type) == ("n-1", "ORDER_CHANGE")
    with pytest.raises(Poisoned, match="event id"):
        await intake.take(source, QueuedMessage("m-2", claimed, b'{"notificationType": "X"}'))


async def test_a_sampled_message_is_the_ingest_of_its_trace_continuing_a_trusted_sender(
    db: Database,
) -> None:
    collector = await Collector().start()
    exporter = ExporterProcess(
        Metrics().trace_spans_dropped,
        exporter="otlp-http",
        endpoint=f"{collector.endpoint}/v1/traces",
        headers={},
        service_name="gateway-under-test",
        export_timeout_seconds=2.0,
        max_queue_size=64,
    )
    await exporter.start()
    tracing = Tracing(exporter, sampling_ratio=1.0, inbound="trust")
    writer = GroupCommitWriter(db, WriterConfig(), Metrics(), ack_timeout=5, tracing=tracing)
    writer.start()
    try:
        intake = MessageIntake(writer, SnsCertificates(()), max_body_bytes=1024)
        sender = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        message = QueuedMessage("m-traced", {"traceparent": sender}, b'{"n": 7}')
        result = await intake.take(_source(scheme="none"), message)
        spans = await collector.wait_for(lambda s: len(s) >= 3, timeout=10)
    finally:
        await writer.close()
        await exporter.close(2.0)
        await collector.stop()
    stored = await get_event(db, result.event_id)
    assert stored.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    (ingest,) = [s for s in spans if s.name == "ingest"]
    assert (ingest.trace_id, ingest.parent_id) == (stored.trace_id, "00f067aa0ba902b7")
    assert ingest.kind == 5  # CONSUMER
    assert ingest.attributes["gateway.outcome"] == "accepted"
    assert sorted(s.name for s in spans if s.parent_id == ingest.span_id) == [
        "checks",
        "group commit",
    ]
