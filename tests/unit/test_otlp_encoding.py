"""The OTLP bytes written for the gateway's spans (the tuples it makes, as they arrive in
the exporter process) are the message the SDK's encoder makes of the SDK's spans made of
the same tuples; what the lean encoder does not take is left to the SDK's, and both
exporters send what a real receiver decodes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from gateway.observability.otlp_encoding import (
    GRPC_MESSAGE_BYTES,
    Group,
    encode,
    group,
    grpc_exporter,
    http_exporter,
    readable,
    serialized,
)
from gateway.observability.tracing import Finished, Tracing, expanded, span_count
from testkit import otlp
from testkit.kept_spans import Keep, kept_tracing
from testkit.otlp import Collector

SENDER = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
INT64_MAX, INT64_MIN = (1 << 63) - 1, -(1 << 63)


GROUP = group("tést-gateway")


def tracing() -> tuple[Tracing, Keep]:
    return kept_tracing()


def finished(t: Tracing, keep: Keep) -> list[Finished]:
    """The spans kept, as the exporter process encodes them: children inside their
    parents, made spans of their own as they are written."""
    assert keep.spans
    return list(keep.spans)


@contextlib.contextmanager
def child_ids(seed: int) -> Iterator[None]:
    """Children's span ids drawn from ``seed`` (each encoder draws one as it writes a
    child, in the same order)."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def piped(spans: list[Finished]) -> Any:
    """``spans`` as the exporter process reads them (MessagePack: lists, not tuples)."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(spans))


def same_message(spans: list[Finished]) -> None:
    with child_ids(1):
        lean = encode(spans, GROUP)
    assert lean is not None
    with child_ids(1):
        expected = encode_spans(readable(spans, GROUP))
    assert ExportTraceServiceRequest.FromString(lean) == expected
    with child_ids(1):
        assert encode(piped(spans), GROUP) == lean


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
    t.child(ingest, "checks", 1_700_000_000_000_000_000, 1_700_000_000_000_050_000)
    t.commits([ingest], 1_700_000_000_000_060_000, 1_700_000_000_000_090_000, 17)
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
    assert {s[3] for s in expanded(spans)} >= {"ingest", "checks", "group commit", "request"}
    assert any(s[10] for s in spans)  # the ingest span's children, written inline
    same_message(spans)


def test_a_spans_children_arrive_as_its_child_spans_each_with_an_id_of_its_own() -> None:
    t, keep = tracing()
    ingest = t.start("ingest", None, 10, {"gateway.source": "shop"}, kind="SERVER")
    t.child(ingest, "checks", 10, 20)
    t.commits([ingest], 30, 40, 17)
    t.end(ingest, 50)
    assert len(keep.spans) == 1  # one span handed over for three
    spans = expanded(piped(keep.spans))
    assert [(s[3], s[4], s[5], s[6], s[7]) for s in spans] == [
        ("ingest", "SERVER", 10, 50, {"gateway.source": "shop"}),
        ("checks", "INTERNAL", 10, 20, {}),
        ("group commit", "INTERNAL", 30, 40, {"gateway.batch.size": 17}),
    ]
    assert {s[0] for s in spans} == {ingest.trace_id}
    assert [s[2] for s in spans] == [None, ingest.span_id, ingest.span_id]
    assert len({s[1] for s in spans}) == 3 and all(s[10] is None for s in spans)
    same_message(spans)


def test_a_commit_after_its_ingest_span_ended_is_exported_on_its_own() -> None:
    t, keep = tracing()
    ingest = t.start("ingest", None, 10, {}, kind="SERVER")
    t.end(ingest, 20, error="storage is slow; retry later")  # answered 503 before the commit
    t.commits([ingest], 30, 40, 3)
    late = keep.spans[1]
    assert (late[2], late[3], late[5], late[6]) == (ingest.span_id, "group commit", 30, 40)
    assert keep.spans[0][10] is None


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


def test_strings_of_every_length_near_a_boundary_encode_as_the_sdk_encoder_does() -> None:
    t, keep = tracing()
    for key in ("k", "gateway.event.external_id", "ключ " * 20, "x" * 130):
        for n in [*range(0, 130), 4_095, 4_096, 5_000]:
            root = t.start("ingest", None, 0, {key: "é" * (n // 2) + "x" * (n % 2)}, kind="SERVER")
            t.child(root, "checks", 1, 2)
            t.child(root, "wide child", 1, 2, {key: "y" * n})
            t.end(root, 3)
    root = t.start("ingest", None, 0, {}, kind="SERVER")
    t.child(root, "a child's name of 5,000 bytes " + "n" * 4_970, 1, 2)
    t.end(root, 3)
    same_message(finished(t, keep))


def test_values_met_before_under_a_key_encode_as_their_own_type_not_an_equal_ones() -> None:
    t, keep = tracing()
    values = [1, True, 1.0, "1", 0, False, 0.0, "", 2**63 - 1, "shopify", "woo", "shopify"]
    for round_ in range(3):
        for n, value in enumerate(values):
            root = t.start("ingest", None, n, {"k": value, "type": f"orders/{n % 5}"})
            t.child(root, "group commit", n, n + 1, {"gateway.batch.size": n % 3 + round_})
            t.end(root, n + 2)
    same_message(finished(t, keep))


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


def a_span(t: Tracing, keep: Keep, attributes: dict[str, Any]) -> list[Finished]:
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
    assert encode(spans, GROUP) is None
    expected = encode_spans(readable(spans, GROUP)).SerializePartialToString()
    assert serialized(spans, GROUP) == expected


def test_a_resource_with_a_schema_url_leaves_the_batch_to_the_sdk() -> None:
    t, keep = tracing()
    spans = a_span(t, keep, {})
    schema = Group(
        Resource.create({"service.name": "x"}, "https://opentelemetry.io/schemas/1.21.0"),
        InstrumentationScope("webhook-gateway", "1"),
    )
    assert encode(spans, GROUP) is not None
    assert encode(spans, schema) is None
    message = ExportTraceServiceRequest.FromString(serialized(spans, schema))
    assert message == encode_spans(readable(spans, schema))
    assert message.resource_spans[0].schema_url == "https://opentelemetry.io/schemas/1.21.0"


async def test_the_http_exporter_sends_lean_and_fallback_batches_a_receiver_decodes() -> None:
    collector = await Collector().start()
    try:
        t, keep = tracing()
        a_webhook(t)
        lean = finished(t, keep)
        t, keep = tracing()
        fallback = a_span(t, keep, {"mapping": {"a": 1}})
        url = f"{collector.endpoint}/v1/traces"
        exporter = http_exporter(url, {"x-tenant": "shop"}, 5.0, GROUP)
        for batch in (lean, fallback):
            result = await asyncio.to_thread(exporter.export, batch)  # type: ignore[arg-type]
            assert result is SpanExportResult.SUCCESS
        sent = span_count(lean) + span_count(fallback)
        got = await collector.wait_for(lambda spans: len(spans) >= sent)
        exporter.shutdown()
    finally:
        await collector.stop()
    names = sorted(s.name for s in got)
    assert names == sorted(s[3] for s in expanded([*lean, *fallback]))
    request = next(s for s in got if s.name == "request")
    assert request.attributes["http.response.status_code"] == 503
    assert request.status_code == 2 and request.service == "tést-gateway"
    checks = next(s for s in got if s.name == "checks" and s.attributes.get("mapping"))
    assert checks.parent_id


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[int, list[ExportTraceServiceRequest]]]:
    with otlp.grpc_receiver() as receiver:
        yield receiver


def test_the_grpc_exporter_sends_the_message_the_sdk_encoder_makes(
    grpc_receiver: tuple[int, list[ExportTraceServiceRequest]],
) -> None:
    port, received = grpc_receiver
    t, keep = tracing()
    a_webhook(t)
    lean = finished(t, keep)
    t, keep = tracing()
    fallback = a_span(t, keep, {"too big": 1 << 64})
    exporter = grpc_exporter(f"127.0.0.1:{port}", True, {}, 5.0, GROUP)
    try:
        for seed, batch in enumerate((lean, fallback)):
            with child_ids(seed):
                assert exporter.export(batch) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
    finally:
        exporter.shutdown()
    expected = []
    for seed, batch in enumerate((lean, fallback)):
        with child_ids(seed):
            expected.append(encode_spans(readable(batch, GROUP)))
    assert received == expected


def test_the_grpc_exporter_splits_a_batch_a_grpc_server_would_refuse_as_too_large(
    grpc_receiver: tuple[int, list[ExportTraceServiceRequest]],
) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as rpc

    port, received = grpc_receiver
    t, keep = tracing()
    wide = "x" * 508  # with the number: the longest value the ingress extracts (512)
    for n in range(4096):
        longest = {"gateway.event.external_id": f"{n:04d}{wide}", "gateway.event.type": wide}
        ingest = t.start("ingest", None, n + 1, longest)
        t.child(ingest, "checks", n + 1, n + 2)
        t.end(ingest, n + 3)
    spans = finished(t, keep)
    whole = encode(spans, GROUP)
    assert whole is not None and len(whole) > GRPC_MESSAGE_BYTES
    as_one = ExportTraceServiceRequest.FromString(whole)
    with (
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
        pytest.raises(grpc.RpcError) as refused,  # as one message, it is refused
    ):
        rpc.TraceServiceStub(channel).Export(as_one, timeout=10)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED

    exporter = grpc_exporter(f"127.0.0.1:{port}", True, {}, 10.0, GROUP)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
    finally:
        exporter.shutdown()
    assert len(received) >= 2
    assert all(message.ByteSize() <= GRPC_MESSAGE_BYTES for message in received)
    got = [
        span
        for message in received
        for group_spans in message.resource_spans
        for scope in group_spans.scope_spans
        for span in scope.spans
    ]
    assert len(got) == span_count(spans) == 8192
    assert len({span.span_id for span in got}) == 8192


def test_lengths_and_numbers_are_written_as_protobufs_varints() -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    from gateway.observability.otlp_encoding import _varint

    edges = [0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000, 1 << 32, (1 << 64) - 1]
    for n in [*range(0, 0x4100), *edges]:
        assert _varint(n) == _VarintBytes(n), n
