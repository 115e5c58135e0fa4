"""The OTLP bytes written for the gateway's spans are the message the SDK's encoder makes
of them; what the lean encoder does not take is left to the SDK's, and both exporters
send what a real receiver decodes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from gateway.observability.otlp_encoding import (
    encode,
    grpc_exporter,
    http_exporter,
    serialized,
)
from gateway.observability.tracing import Tracing
from testkit.kept_spans import Keep, kept_tracing
from testkit.otlp import Collector

SENDER = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
INT64_MAX, INT64_MIN = (1 << 63) - 1, -(1 << 63)


def tracing() -> tuple[Tracing, Keep]:
    return kept_tracing("tést-gateway", 4096)


def finished(t: Tracing, keep: Keep) -> list[ReadableSpan]:
    t.shutdown(5.0)
    assert keep.spans
    return keep.spans


def same_message(spans: list[ReadableSpan]) -> None:
    lean = encode(spans)
    assert lean is not None
    assert ExportTraceServiceRequest.FromString(lean) == encode_spans(spans)


def a_webhook(t: Tracing) -> None:
    """The spans of one traced webhook, as the ingress and the dispatcher make them."""
    ingest = t.start(
        "ingest",
        None,
        1_700_000_000_000_000_000,
        {"gateway.source": "shop", "gateway.event.id": "01JABC", "gateway.event.type": ""},
        kind="SERVER",
        link=(*SENDER, True),
    )
    t.span("checks", ingest, 1_700_000_000_000_000_000, 1_700_000_000_000_050_000)
    t.commits([ingest.ids], 1_700_000_000_000_060_000, 1_700_000_000_000_090_000, 17)
    t.end(ingest, 1_700_000_000_000_100_000, {"gateway.outcome": "accepted"})
    attempt = t.start(
        "attempt",
        ingest.ids,
        1_700_000_000_000_200_000,
        {"gateway.delivery.id": 91, "gateway.attempt": 2, "gateway.subscriber": "wärehouse"},
    )
    t.span("claim wait", attempt, 1_700_000_000_000_200_000, 1_700_000_000_000_210_000)
    t.span(
        "request",
        attempt,
        1_700_000_000_000_220_000,
        1_700_000_000_000_300_000,
        {"http.response.status_code": 503, "http.request.method": "POST"},
        kind="CLIENT",
        error="HTTP 503",
    )
    t.span("publish", attempt, 1, 2, {"messaging.system": "rabbitmq"}, kind="PRODUCER")
    t.end(attempt, 1_700_000_000_000_400_000, {"gateway.next": "retrying"}, error="ünreachable ✗")


def test_a_webhooks_spans_encode_to_the_message_the_sdk_encoder_makes() -> None:
    t, keep = tracing()
    a_webhook(t)
    spans = finished(t, keep)
    assert {s.name for s in spans} >= {"ingest", "checks", "group commit", "attempt", "request"}
    same_message(spans)


def test_every_attribute_type_and_edge_value_encodes_as_the_sdk_encoder_does() -> None:
    t, keep = tracing()
    root = t.start("ŝpan ☃ 名前", None, 0, {}, kind="CONSUMER")
    t.span(
        "",
        root,
        5,
        5,
        {
            "big": INT64_MAX,
            "small": INT64_MIN,
            "negative": -1,
            "zero": 0,
            "false": False,
            "true": True,
            "float": -2.5,
            "float zero": 0.0,
            "empty": "",
            "none": None,
            "bytes": b"\x00\xff",
            "strings": ["a", "ü"],
            "numbers": (1, -7, INT64_MAX),
            "empty list": [],
            "ключ": "значение " * 40,
            **{f"{n} bytes": "x" * n for n in (123, 124, 125, 126, 127, 128, 16_384)},
        },
    )
    t.end(root, 10, error="")
    t.span("trusted", (*SENDER, True), 1, 2)
    same_message(finished(t, keep))


def test_a_trace_state_and_dropped_attributes_encode_as_the_sdk_encoder_does() -> None:
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.trace import Link, SpanContext, TraceState

    t, keep = tracing()
    ours = a_span(t, keep, {})
    state = TraceState([("vendor", "x1"), ("other", "y")])
    assert len(state) == 2
    context = SpanContext(1 << 100, 7, False, trace_state=state)
    parent = SpanContext(1 << 100, 9, True, trace_state=state)
    bounded = BoundedAttributes(maxlen=2, attributes={"a": 1, "b": "two", "c": 3.0})
    linked = Link(parent, BoundedAttributes(maxlen=1, attributes={"x": 1, "y": 2}))
    made = [
        ReadableSpan(
            name,
            context=context,
            parent=with_parent,
            resource=ours[0].resource,
            attributes=bounded,
            links=[linked],
            instrumentation_scope=ours[0].instrumentation_scope,
        )
        for name, with_parent in (("remote child", parent), ("root", None))
    ]
    assert bounded.dropped == 1
    same_message([*ours, *made])


scalars = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False),
    st.none(),
    st.binary(max_size=20),
)
values = st.one_of(
    scalars, st.lists(st.one_of(st.text(max_size=8), st.integers(INT64_MIN, INT64_MAX)), max_size=4)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attributes=st.dictionaries(st.text(max_size=12), values, max_size=6),
    name=st.text(max_size=30),
    error=st.none() | st.text(max_size=20),
)
def test_any_attributes_the_lean_encoder_takes_encode_as_the_sdk_encoder_does(
    attributes: dict[str, Any], name: str, error: str | None
) -> None:
    t, keep = tracing()
    root = t.start(name, None, 1, attributes, link=(*SENDER, False))
    t.span(name, root, 2, 3, attributes, kind="SERVER", error=error)
    t.end(root, 4, error=error)
    same_message(finished(t, keep))


def a_span(t: Tracing, keep: Keep, attributes: dict[str, Any]) -> list[ReadableSpan]:
    root = t.start("ingest", None, 1, {"gateway.source": "shop"})
    t.span("checks", root, 1, 2, attributes)
    t.end(root, 3)
    return finished(t, keep)


@pytest.mark.parametrize(
    "attributes",
    [
        {"too big": 1 << 64},
        {"too small": INT64_MIN - 1},
        {"mapping": {"a": 1}},
        {"set": {1, 2}},
        {"lone surrogate": "\ud800"},
    ],
)
def test_an_attribute_the_lean_encoder_does_not_take_leaves_the_batch_to_the_sdk(
    attributes: dict[str, Any],
) -> None:
    t, keep = tracing()
    spans = a_span(t, keep, attributes)
    assert encode(spans) is None
    assert serialized(spans) == encode_spans(spans).SerializePartialToString()


def test_an_event_or_another_resource_leaves_the_batch_to_the_sdk() -> None:
    t, keep = tracing()
    spans = a_span(t, keep, {})
    other = spans[0]
    with_event = ReadableSpan(
        "e",
        context=other.context,
        resource=other.resource,
        events=[Event("boom", {"a": 1}, 7)],
        instrumentation_scope=other.instrumentation_scope,
    )
    elsewhere = ReadableSpan(
        "r",
        context=other.context,
        resource=Resource.create({"service.name": "other"}),
        instrumentation_scope=other.instrumentation_scope,
    )
    assert encode(spans) is not None
    for batch in ([*spans, with_event], [*spans, elsewhere]):
        assert encode(batch) is None
        assert ExportTraceServiceRequest.FromString(serialized(batch)) == encode_spans(batch)


async def test_the_http_exporter_sends_lean_and_fallback_batches_a_receiver_decodes() -> None:
    collector = await Collector().start()
    try:
        t, keep = tracing()
        a_webhook(t)
        lean = finished(t, keep)
        t, keep = tracing()
        fallback = a_span(t, keep, {"mapping": {"a": 1}})
        exporter = http_exporter(f"{collector.endpoint}/v1/traces", {"x-tenant": "shop"}, 5.0)
        for batch in (lean, fallback):
            result = await asyncio.to_thread(exporter.export, batch)
            assert result is SpanExportResult.SUCCESS
        got = await collector.wait_for(lambda spans: len(spans) >= len(lean) + len(fallback))
        exporter.shutdown()
    finally:
        await collector.stop()
    names = sorted(s.name for s in got)
    assert names == sorted(s.name for s in [*lean, *fallback])
    request = next(s for s in got if s.name == "request")
    assert request.attributes["http.response.status_code"] == 503
    assert request.status_code == 2 and request.service == "tést-gateway"
    checks = next(s for s in got if s.name == "checks" and s.attributes.get("mapping"))
    assert checks.parent_id


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[int, list[ExportTraceServiceRequest]]]:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as rpc

    received: list[ExportTraceServiceRequest] = []
    lock = threading.Lock()

    class Receiver(rpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
            with lock:
                received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, received
    server.stop(None)


def test_the_grpc_exporter_sends_the_message_the_sdk_encoder_makes(
    grpc_receiver: tuple[int, list[ExportTraceServiceRequest]],
) -> None:
    port, received = grpc_receiver
    t, keep = tracing()
    a_webhook(t)
    lean = finished(t, keep)
    t, keep = tracing()
    fallback = a_span(t, keep, {"too big": 1 << 64})
    exporter = grpc_exporter(f"127.0.0.1:{port}", True, {}, 5.0)
    try:
        for batch in (lean, fallback):
            assert exporter.export(batch) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert received == [encode_spans(lean), encode_spans(fallback)]
