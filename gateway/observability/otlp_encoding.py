"""OTLP encoding of the gateway's spans: the ``ExportTraceServiceRequest`` protobuf bytes
written directly from the tuples the gateway makes (``tracing.Finished``), and the SDK's
exporters sending them.

The SDK's encoder builds a protobuf message per span, per attribute and per value before
serialising them (about 15 µs a span), from the SDK's span objects, which would have to
be made first. The spans made here are few in shape: ids, a name, a kind, two times,
flat attributes of strings and numbers, at most a link to the sender's span, a status,
and one resource and scope shared by all. Those are written as bytes (the resource and
scope once, then reused, as are a name and kind, and an attribute equal to the last
value written for its key); an attribute of another type (an int beyond int64, a mapping)
leaves its batch to the SDK's encoder, from the SDK's spans made of the same tuples
(:func:`readable`).

The exporters are the SDK's own with only how spans become bytes replaced, and over gRPC
an export split into messages a gRPC server takes (:data:`GRPC_MESSAGE_BYTES`): retries,
headers, compression, timeouts and the HTTP size limit stay the SDK's. Imported only by
the exporter process (``exporter.py``).
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.trace import SpanKind, StatusCode

from gateway import __version__
from gateway.observability.tracing import CHILD_KIND, Finished, expanded, span_count

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

__all__ = [
    "Group",
    "encode",
    "group",
    "grpc_exporter",
    "http_exporter",
    "readable",
    "request",
    "requests",
    "serialized",
]

GRPC_MESSAGE_BYTES = 4 * 1024 * 1024 - 1024  # a gRPC server takes 4 MiB by default
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MASK64 = (1 << 64) - 1
_HAS_IS_REMOTE = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK

# Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


def _tag(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:  # a span's length, mostly: two bytes
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(0x80)]


def _field(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field: its tag, the body's length, the body."""
    n = len(body)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + body


class _Unsupported(Exception):
    """What the SDK's encoder must write instead."""


# AnyValue's fields; KeyValue's; Span's; Link's; Status's.
_STRING, _BOOL, _INT = _tag(1, _LEN), _tag(2, _VARINT), _tag(3, _VARINT)
_DOUBLE, _ARRAY, _BYTES = _tag(4, _FIXED64), _tag(5, _LEN), _tag(7, _LEN)
_ARRAY_VALUE = _tag(1, _LEN)
_KEY, _VALUE = _tag(1, _LEN), _tag(2, _LEN)
_TRACE_ID, _SPAN_ID = _tag(1, _LEN) + _SMALL[16], _tag(2, _LEN) + _SMALL[8]
_IDS = struct.Struct(">2s16s2sQ")  # trace id and span id, big-endian bytes
_PARENT_ID = _tag(4, _LEN) + _SMALL[8]
_IDS_PARENT = struct.Struct(">2s16s2sQ2sQ")  # the ids, then the parent's span id
_NAME, _ATTRIBUTE = _tag(5, _LEN), _tag(9, _LEN)
_LINK, _STATUS = _tag(13, _LEN), _tag(15, _LEN)
_TIMES = struct.Struct("<BQBQ")  # start (field 7) and end (field 8), fixed64 each
_START, _END = (7 << 3) | _FIXED64, (8 << 3) | _FIXED64
_FLAGS = struct.Struct("<2sI")  # field 16, fixed32
_FLAGS_TAG = _tag(16, _FIXED32)
_LOCAL_PARENT = _FLAGS.pack(_FLAGS_TAG, _HAS_IS_REMOTE)  # a root's flags too
_REMOTE_PARENT = _FLAGS.pack(_FLAGS_TAG, _HAS_IS_REMOTE | _IS_REMOTE)
_LINK_ATTRIBUTE = _tag(4, _LEN)
_LINK_FLAGS = struct.Struct("<BI")
_LINK_FLAGS_TAG = (6 << 3) | _FIXED32
_LINK_ATTRIBUTES = {"gateway.link": "sender"}
_MESSAGE, _CODE = _tag(2, _LEN), _tag(3, _VARINT)
_ERROR = StatusCode.ERROR.value
_EMPTY_STATUS = _STATUS + _SMALL[0]  # the SDK's encoder writes a status always
_DOUBLE_BYTES = struct.Struct("<d").pack
_KINDS = {
    kind.name: _tag(6, _VARINT) + _varint(PB2Span.SpanKind.Value(f"SPAN_KIND_{kind.name}"))
    for kind in SpanKind
}
# Message fields of the request and its groups.
_RESOURCE_SPANS, _RESOURCE, _SCOPE_SPANS = _tag(1, _LEN), _tag(1, _LEN), _tag(2, _LEN)
_SCOPE, _SPAN = _tag(1, _LEN), _tag(2, _LEN)
_SCOPE_NAME, _SCOPE_VERSION, _SCOPE_ATTRIBUTE = _tag(1, _LEN), _tag(2, _LEN), _tag(3, _LEN)


def _value(value: Any) -> bytes:
    """An ``AnyValue``'s body, as the SDK's encoder writes each type it takes."""
    if isinstance(value, str):
        return _field(_STRING, value.encode())
    if isinstance(value, bool):
        return _BOOL + _SMALL[value]
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Unsupported
        return _INT + _varint(value & _MASK64)
    if isinstance(value, float):
        return _DOUBLE + _DOUBLE_BYTES(value)
    if value is None:
        return b""
    if isinstance(value, bytes):
        return _field(_BYTES, value)
    if isinstance(value, (list, tuple)):
        return _field(_ARRAY, b"".join([_field(_ARRAY_VALUE, _value(v)) for v in value]))
    raise _Unsupported


_KEYS: dict[str, bytes] = {}
_KEYS_HELD = 256  # the gateway sets a few dozen keys; an unbounded set is not kept


def _attributes(tag: bytes, attributes: Mapping[str, Any]) -> list[bytes]:
    """Each attribute as a ``KeyValue`` field tagged ``tag``."""
    return [_attribute(tag, key, value) for key, value in attributes.items()]


def _attribute(tag: bytes, key: str, value: Any) -> bytes:
    """An attribute as a ``KeyValue`` field tagged ``tag``."""
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _field(_KEY, key.encode())
        if len(_KEYS) < _KEYS_HELD:
            _KEYS[key] = encoded
    return _field(tag, encoded + _field(_VALUE, _value(value)))


# A link's fields after its ids: the sender's span, linked as a remote context.
_SENDER_LINK = b"".join(_attributes(_LINK_ATTRIBUTE, _LINK_ATTRIBUTES)) + _LINK_FLAGS.pack(
    _LINK_FLAGS_TAG, _HAS_IS_REMOTE | _IS_REMOTE
)


def _ids(trace_id: bytes, span_id: int) -> bytes:
    """A span's or a link's trace id and span id fields (fields 1 and 2 of both)."""
    return _IDS.pack(_TRACE_ID, trace_id, _SPAN_ID, span_id)


def _error(message: str) -> bytes:
    """An error status saying ``message``."""
    text = _field(_MESSAGE, message.encode()) if message else b""
    return _field(_STATUS, text + _CODE + _varint(_ERROR))


_HEADS: dict[tuple[str, str], bytes] = {}  # a span's name and kind fields, by both
_TAILS = {  # its status and flags, for a span without an error: by whether it has a parent
    False: _EMPTY_STATUS + _LOCAL_PARENT,
    True: _EMPTY_STATUS + _REMOTE_PARENT,
}
_HELD: dict[str, dict[str | int, bytes]] = {}  # by key: its string and int values, written
_VALUES_HELD = 64  # a key's values held (its first ones: a sender's id is never met again)


def _head(name: str, kind: str) -> bytes:
    head = _HEADS.get((name, kind))
    if head is None:
        head = (_field(_NAME, name.encode()) if name else b"") + _KINDS[kind]
        if len(_HEADS) < _KEYS_HELD:
            _HEADS[(name, kind)] = head
    return head


def _spans(spans: Sequence[Finished]) -> list[bytes]:
    """The ``spans`` fields of a ``ScopeSpans``, in parts: each span, then its children
    (``tracing.Child``) as spans of their own, each given its id here, in the order
    ``tracing.expanded`` gives them theirs (what the SDK's encoder writes of its spans).
    One loop with everything it needs held locally: this is the exporter's hottest code.
    A child's parts are not joined: its length is known from its name's (:func:`_kid`)."""
    out: list[bytes] = []
    add = out.extend
    heads, lengths, kids_of, bits = _HEADS, _LENGTHS, _KIDS, random.getrandbits
    ids_of, ids_with_parent, times = _IDS.pack, _IDS_PARENT.pack, _TIMES.pack
    kid_tail = _TAILS[True]
    for trace, span_id, parent_id, name, kind, start, end, attributes, link, error, kids in spans:
        if parent_id is not None:
            ids = ids_with_parent(_TRACE_ID, trace, _SPAN_ID, span_id, _PARENT_ID, parent_id)
        else:
            ids = ids_of(_TRACE_ID, trace, _SPAN_ID, span_id)
        parts = [ids, heads.get((name, kind)) or _head(name, kind), times(_START, start, _END, end)]
        if attributes:
            _attributes_once(parts, attributes)
        if link is not None:
            parts.append(_field(_LINK, _ids(link[0], link[1]) + _SENDER_LINK))
        if error is None:
            parts.append(_TAILS[parent_id is not None])
        else:
            parts.append(_error(error))
            parts.append(_LOCAL_PARENT if parent_id is None else _REMOTE_PARENT)
        encoded = b"".join(parts)
        n = len(encoded)
        add((_SPAN, lengths[n] if n < _LENGTHS_HELD else _varint(n), encoded))
        if kids:
            for kid, begun, ended, given in kids:
                ids = ids_with_parent(
                    _TRACE_ID, trace, _SPAN_ID, bits(64) or 1, _PARENT_ID, span_id
                )
                head, fixed = kids_of.get(kid) or _kid(kid)
                given_bytes = b""
                if given:
                    parts = []
                    _attributes_once(parts, given)
                    given_bytes = b"".join(parts)
                n = fixed + len(given_bytes)
                length = lengths[n] if n < _LENGTHS_HELD else _varint(n)
                add((_SPAN, length, ids, head, times(_START, begun, _END, ended), given_bytes,
                     kid_tail))  # fmt: skip
    return out


_LENGTHS_HELD = 0x1000  # a span's length as a varint, for every length below this
_LENGTHS = [_varint(n) for n in range(_LENGTHS_HELD)]
_KIDS: dict[str, tuple[bytes, int]] = {}  # by a child's name: its name and kind fields,
# and its length without attributes (ids with its parent's, times, status and flags)


def _kid(name: str) -> tuple[bytes, int]:
    """A child's name and kind fields, and its length without attributes (:data:`_KIDS`)."""
    head = _head(name, CHILD_KIND)
    made = head, _IDS_PARENT.size + len(head) + _TIMES.size + len(_TAILS[True])
    if len(_KIDS) < _KEYS_HELD:
        _KIDS[name] = made
    return made


def _attributes_once(parts: list[bytes], attributes: Mapping[str, Any]) -> None:
    """Each attribute onto ``parts`` as :func:`_attribute` writes it, but for a string or
    int written before for its key (a source, an event type, an outcome, a status code),
    which is not written again, and a short string, written after its key's prefix for
    its length (an event's ids: one concatenation)."""
    held_of, prefixes_of = _HELD, _PREFIXES
    for key, value in attributes.items():
        held = held_of.get(key)
        kind = type(value)
        if held is not None and (kind is str or kind is int):  # True == 1.0 == 1: not held
            field = held.get(value)
            if field is not None:
                parts.append(field)
                continue
        if kind is str:
            raw = value.encode()
            prefixes = prefixes_of.get(key)
            if prefixes is None:
                prefixes = _prefixes(key)
            n = len(raw)
            field = prefixes[n] + raw if n < len(prefixes) else _attribute(_ATTRIBUTE, key, value)
        else:
            field = _attribute(_ATTRIBUTE, key, value)
        if kind is str or kind is int:
            if held is None and len(held_of) < _KEYS_HELD:
                held = held_of[key] = {}
            if held is not None and len(held) < _VALUES_HELD:
                held[value] = field
        parts.append(field)


_PREFIXES: dict[str, list[bytes]] = {}  # by key: a string attribute's bytes before it, by length
_PREFIXED = 0x80  # string lengths (in bytes) a key's prefixes are held for


def _prefixes(key: str) -> list[bytes]:
    """What :func:`_attribute` writes before a string value of ``key``, for each length
    below :data:`_PREFIXED`: its field of that many bytes, less them."""
    made = [_attribute(_ATTRIBUTE, key, "\0" * n)[: -n or None] for n in range(_PREFIXED)]
    if len(_PREFIXES) < _KEYS_HELD:
        _PREFIXES[key] = made
    return made


class Group:
    """The resource and instrumentation scope every span of the gateway's is exported
    with, and their fields, encoded once."""

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self.resource = resource
        self.scope = scope
        resource_body = b"".join(_attributes(_tag(1, _LEN), resource.attributes))
        scope_parts = []
        if scope.name:
            scope_parts.append(_field(_SCOPE_NAME, scope.name.encode()))
        if scope.version:
            scope_parts.append(_field(_SCOPE_VERSION, scope.version.encode()))
        if scope.attributes:
            scope_parts += _attributes(_SCOPE_ATTRIBUTE, scope.attributes)
        self.resource_field = _field(_RESOURCE, resource_body)
        self.scope_field = _field(_SCOPE, b"".join(scope_parts))
        # A schema URL is the SDK encoder's to write.
        self.lean = not resource.schema_url and not scope.schema_url


def group(service_name: str) -> Group:
    """The gateway's resource (``service_name``, its version, and what the SDK adds: its
    own attributes, ``OTEL_RESOURCE_ATTRIBUTES``) and instrumentation scope."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    resource = Resource.create({"service.name": service_name, "service.version": __version__})
    return Group(resource, InstrumentationScope("webhook-gateway", __version__))


def encode(spans: Sequence[Finished], group: Group) -> bytes | None:
    """The ``ExportTraceServiceRequest`` the SDK's encoder would make of ``spans`` (as
    :func:`readable` makes them), as bytes; ``None`` when they hold what is left to the
    SDK's encoder. Children (``tracing.Child``) are written as spans of their own."""
    if not spans or not group.lean:
        return None
    try:
        body = b"".join(_spans(spans))  # one pass over the parts; the head's lengths from it
    except (_Unsupported, UnicodeEncodeError):
        return None
    scope_spans = len(group.scope_field) + len(body)
    scope_length = _varint(scope_spans)
    resource_spans = len(group.resource_field) + len(_SCOPE_SPANS) + len(scope_length) + scope_spans
    return b"".join(
        (
            _RESOURCE_SPANS, _varint(resource_spans), group.resource_field,
            _SCOPE_SPANS, scope_length, group.scope_field, body,
        )
    )  # fmt: skip


def readable(spans: Sequence[Finished], group: Group) -> list[ReadableSpan]:
    """``spans``, their children as spans of their own (``tracing.expanded``), as the
    SDK's finished spans: what its encoder writes when this one does not (and what the
    tests hold the bytes written here to)."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Link, SpanContext, Status, TraceFlags

    sampled = TraceFlags(TraceFlags.SAMPLED)
    unset = Status(StatusCode.UNSET)
    made = []
    flat = expanded(spans)
    for trace, span_id, parent_id, name, kind, start, end, attributes, link, error, _ in flat:
        trace_id = int.from_bytes(trace, "big")
        parent = None
        if parent_id is not None:
            parent = SpanContext(trace_id, parent_id, True, sampled)
        links = []
        if link is not None:
            linked = SpanContext(int.from_bytes(link[0], "big"), link[1], True, sampled)
            links.append(Link(linked, dict(_LINK_ATTRIBUTES)))
        made.append(
            ReadableSpan(
                name,
                context=SpanContext(trace_id, span_id, False, sampled),
                parent=parent,
                resource=group.resource,
                attributes=attributes,
                links=links,
                kind=SpanKind[kind],
                status=unset if error is None else Status(StatusCode.ERROR, error),
                start_time=start,
                end_time=end,
                instrumentation_scope=group.scope,
            )
        )
    return made


def serialized(spans: Sequence[Finished], group: Group) -> bytes:
    """``spans`` as the request's bytes: written here, or by the SDK's encoder."""
    lean = encode(spans, group)
    if lean is not None:
        return lean
    data: bytes = encode_spans(readable(spans, group)).SerializePartialToString()
    return data


def request(spans: Sequence[Finished], group: Group) -> ExportTraceServiceRequest:
    """``spans`` as the request message (gRPC sends a message): the lean bytes parsed,
    or the SDK's encoder."""
    return requests(spans, group, None)[0][0]


def requests(
    spans: Sequence[Finished], group: Group, limit: int | None
) -> list[tuple[ExportTraceServiceRequest, int, int]]:
    """``spans`` as request messages of at most ``limit`` bytes each (halved until they
    fit; a span alone is as large as it is), each with the spans it holds (children
    counted) and its size in bytes."""
    lean = encode(spans, group)
    if lean is None:
        message = encode_spans(readable(spans, group))
        size = message.ByteSize()
    else:
        size = len(lean)
    if limit is not None and size > limit and len(spans) > 1:
        half = len(spans) // 2
        return requests(spans[:half], group, limit) + requests(spans[half:], group, limit)
    if lean is not None:
        message = ExportTraceServiceRequest.FromString(lean)
    return [(message, span_count(spans), size)]


def http_exporter(
    endpoint: str, headers: Mapping[str, str], timeout: float, group: Group
) -> SpanExporter:
    """The SDK's OTLP/HTTP exporter, sending the bytes written here: its ``export``
    takes the gateway's tuples."""
    from opentelemetry.exporter.otlp.proto.http._common import (
        RequestPayloadTooLargeError,
        _is_request_too_large,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

    logger = logging.getLogger(OTLPSpanExporter.__module__)

    class Http(OTLPSpanExporter):
        # The SDK's ``export`` with ``encode_spans(spans)`` replaced by ``serialized``:
        # it has no narrower seam; the rest is its own (size limit, client, metrics).
        def export(self, spans: Sequence[Finished]) -> SpanExportResult:  # type: ignore[override]
            if self._shutdown:
                return super().export(())
            with self._metrics.export_operation(span_count(spans)) as result:
                try:
                    data = serialized(spans, group)
                except Exception as error:
                    logger.error("Failed to encode span batch: %s", error)
                    result.error = error
                    return SpanExportResult.FAILURE
                if _is_request_too_large(data, self._max_request_size):
                    logger.warning(
                        "Dropping span batch: serialized size %d bytes exceeds "
                        "max_request_size %d bytes.",
                        len(data),
                        self._max_request_size,
                    )
                    result.error = RequestPayloadTooLargeError(
                        f"Serialized span request size {len(data)} bytes exceeds "
                        f"max_request_size {self._max_request_size} bytes."
                    )
                    return SpanExportResult.FAILURE
                sent = self._client.export(data)
                if not sent.success:
                    result.error = sent.error
                    if sent.status_code is not None:
                        result.error_attrs = {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                    return SpanExportResult.FAILURE
            return SpanExportResult.SUCCESS

    return Http(endpoint=endpoint, headers=dict(headers), timeout=timeout)


def grpc_exporter(
    target: str, insecure: bool, headers: Mapping[str, str], timeout: float, group: Group
) -> SpanExporter:
    """The SDK's OTLP/gRPC exporter, sending the bytes written here (parsed back into
    the message its stub takes, which the C runtime does cheaply): its ``export`` takes
    the gateway's tuples, and says after a failure how many of their spans failed
    (``failed_spans``)."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    class Grpc(OTLPSpanExporter):
        failed_spans = 0  # of the last export, which fails when any of its messages does

        # The SDK's export (its retries, metrics) of each message in turn, each within
        # what a gRPC server takes by default: the data it passes to the two methods
        # below is a message made here, the spans it holds and its size. A span too
        # large alone fails at once (the SDK would retry its refusal until the timeout).
        def export(self, spans: Sequence[Finished]) -> SpanExportResult:  # type: ignore[override]
            self.failed_spans = 0
            for prepared in requests(spans, group, GRPC_MESSAGE_BYTES):
                too_large = prepared[2] > GRPC_MESSAGE_BYTES
                if too_large or self._export(prepared) is not SpanExportResult.SUCCESS:  # type: ignore[arg-type]
                    self.failed_spans += prepared[1]
            return SpanExportResult.FAILURE if self.failed_spans else SpanExportResult.SUCCESS

        def _translate_data(  # type: ignore[override]
            self, data: tuple[ExportTraceServiceRequest, int, int]
        ) -> ExportTraceServiceRequest:
            return data[0]

        def _count_data(self, data: tuple[ExportTraceServiceRequest, int, int]) -> int:  # type: ignore[override]
            return data[1]

    return Grpc(endpoint=target, insecure=insecure, headers=dict(headers), timeout=timeout)
