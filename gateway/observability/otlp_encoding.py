"""OTLP encoding of the gateway's spans: the ``ExportTraceServiceRequest`` protobuf bytes
written directly, and the SDK's exporters sending them.

The SDK's encoder builds a protobuf message per span, per attribute and per value before
serialising them (about 15 µs a span, on the exporting thread, under the GIL the event
loop needs). The spans made here are few in shape: ids, a name, a kind, two times, flat
attributes of strings and numbers, at most a link, a status, and one resource and scope
shared by all. Those are written as bytes (the resource and scope once, then reused);
anything else (an event, an attribute of another type, an int beyond int64, spans of
several resources or scopes) is left to the SDK's encoder, for the whole batch.

The exporters are the SDK's own with only how spans become bytes replaced: retries,
headers, compression, timeouts and the size limit stay the SDK's. Imported only when
tracing is on.
"""

from __future__ import annotations

import logging
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

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, Status

__all__ = ["encode", "grpc_exporter", "http_exporter", "request", "serialized"]

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
_IDS = struct.Struct(">2sQQ2sQ")  # trace id (two halves) and span id, big-endian bytes
_TRACE_STATE, _PARENT_ID = _tag(3, _LEN), _tag(4, _LEN) + _SMALL[8]
_PARENT = struct.Struct(">2sQ")
_IDS_PARENT = struct.Struct(">2sQQ2sQ2sQ")  # the ids, then the parent's span id
_NAME, _ATTRIBUTE = _tag(5, _LEN), _tag(9, _LEN)
_DROPPED_ATTRIBUTES, _DROPPED_EVENTS = _tag(10, _VARINT), _tag(12, _VARINT)
_LINK, _DROPPED_LINKS, _STATUS = _tag(13, _LEN), _tag(14, _VARINT), _tag(15, _LEN)
_TIMES = struct.Struct("<BQBQ")  # start (field 7) and end (field 8), fixed64 each
_START, _END = (7 << 3) | _FIXED64, (8 << 3) | _FIXED64
_FLAGS = struct.Struct("<2sI")  # field 16, fixed32
_FLAGS_TAG = _tag(16, _FIXED32)
_LOCAL_PARENT = _FLAGS.pack(_FLAGS_TAG, _HAS_IS_REMOTE)  # a root's flags too
_REMOTE_PARENT = _FLAGS.pack(_FLAGS_TAG, _HAS_IS_REMOTE | _IS_REMOTE)
_LINK_ATTRIBUTE, _LINK_DROPPED = _tag(4, _LEN), _tag(5, _VARINT)
_LINK_FLAGS = struct.Struct("<BI")
_LINK_FLAGS_TAG = (6 << 3) | _FIXED32
_MESSAGE, _CODE = _tag(2, _LEN), _tag(3, _VARINT)
_UNSET = StatusCode.UNSET
_EMPTY_STATUS = _STATUS + _SMALL[0]  # the SDK's encoder writes a status always
_DOUBLE_BYTES = struct.Struct("<d").pack
_KINDS = {
    kind: _tag(6, _VARINT) + _varint(PB2Span.SpanKind.Value(f"SPAN_KIND_{kind.name}"))
    for kind in SpanKind
}
# Message fields of the request and its groups.
_RESOURCE_SPANS, _RESOURCE, _SCOPE_SPANS = _tag(1, _LEN), _tag(1, _LEN), _tag(2, _LEN)
_SCOPE, _SPAN, _SCHEMA_URL = _tag(1, _LEN), _tag(2, _LEN), _tag(3, _LEN)
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
    """Each attribute as a ``KeyValue`` field tagged ``tag`` (a short string, the most
    common value, written inline)."""
    out = []
    keys = _KEYS
    small = _SMALL
    for key, value in attributes.items():
        encoded = keys.get(key)
        if encoded is None:
            encoded = _field(_KEY, key.encode())
            if len(keys) < _KEYS_HELD:
                keys[key] = encoded
        if type(value) is str:
            raw = value.encode()
            n = len(raw)
            if n < 0x7E:
                body = encoded + _VALUE + small[n + 2] + _STRING + small[n] + raw
            else:
                body = encoded + _field(_VALUE, _field(_STRING, raw))
        else:
            body = encoded + _field(_VALUE, _value(value))
        n = len(body)
        out.append(tag + (small[n] if n < 0x80 else _varint(n)) + body)
    return out


def _flags(context: SpanContext | None) -> int:
    if context is not None and context.is_remote:
        return _HAS_IS_REMOTE | _IS_REMOTE
    return _HAS_IS_REMOTE


def _ids(trace_id: int, span_id: int) -> bytes:
    """A span's or a link's trace id and span id fields (fields 1 and 2 of both)."""
    return _IDS.pack(_TRACE_ID, trace_id >> 64, trace_id & _MASK64, _SPAN_ID, span_id)


def _status(status: Status | None) -> bytes:
    if status is None:
        return b""
    message, code = status.description, status.status_code
    if code is _UNSET and not message:
        return _EMPTY_STATUS
    return _field(
        _STATUS,
        (_field(_MESSAGE, message.encode()) if message else b"")
        + (_CODE + _varint(code.value) if code.value else b""),
    )


def _span(span: ReadableSpan) -> bytes:
    if span.events:
        raise _Unsupported
    context = span.context
    if context is None:
        raise _Unsupported
    parent = span.parent
    trace_id = context.trace_id
    trace_state = context.trace_state
    if parent is not None and not trace_state:
        parts = [
            _IDS_PARENT.pack(
                _TRACE_ID,
                trace_id >> 64,
                trace_id & _MASK64,
                _SPAN_ID,
                context.span_id,
                _PARENT_ID,
                parent.span_id,
            )
        ]
    else:
        parts = [_ids(trace_id, context.span_id)]
        if trace_state:
            state = ",".join([f"{k}={v}" for k, v in trace_state.items()])
            parts.append(_field(_TRACE_STATE, state.encode()))
        if parent is not None:
            parts.append(_PARENT.pack(_PARENT_ID, parent.span_id))
    if span.name:
        parts.append(_field(_NAME, span.name.encode()))
    parts.append(_KINDS[span.kind])
    parts.append(_TIMES.pack(_START, span.start_time or 0, _END, span.end_time or 0))
    attributes = span.attributes
    if attributes:
        parts += _attributes(_ATTRIBUTE, attributes)
    dropped = span.dropped_attributes
    if dropped:
        parts += (_DROPPED_ATTRIBUTES, _varint(dropped))
    dropped = span.dropped_events
    if dropped:
        parts += (_DROPPED_EVENTS, _varint(dropped))
    for link in span.links:
        linked = link.context
        body = [_ids(linked.trace_id, linked.span_id)]
        if link.attributes:
            body += _attributes(_LINK_ATTRIBUTE, link.attributes)
        if link.dropped_attributes:
            body += (_LINK_DROPPED, _varint(link.dropped_attributes))
        body.append(_LINK_FLAGS.pack(_LINK_FLAGS_TAG, _flags(linked)))
        parts.append(_field(_LINK, b"".join(body)))
    dropped = span.dropped_links
    if dropped:
        parts += (_DROPPED_LINKS, _varint(dropped))
    parts.append(_status(span.status))
    parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    encoded = b"".join(parts)
    return _SPAN + _varint(len(encoded)) + encoded


_GROUPS: dict[tuple[int, int], tuple[Resource, InstrumentationScope | None, bytes, bytes]] = {}


def _group(resource: Resource, scope: InstrumentationScope | None) -> tuple[bytes, bytes]:
    """The resource field and the scope field of a group, encoded once: the resource and
    scope are the gateway's own, made once (the objects are held, so their ids stay
    theirs)."""
    held = _GROUPS.get((id(resource), id(scope)))
    if held is not None:
        return held[2], held[3]
    body = b"".join(_attributes(_tag(1, _LEN), resource.attributes))
    resource_field = _field(_RESOURCE, body)
    if scope is None:
        scope_body = b""
    else:
        scope_parts = []
        if scope.name:
            scope_parts.append(_field(_SCOPE_NAME, scope.name.encode()))
        if scope.version:
            scope_parts.append(_field(_SCOPE_VERSION, scope.version.encode()))
        if scope.attributes:
            scope_parts += _attributes(_SCOPE_ATTRIBUTE, scope.attributes)
        scope_body = b"".join(scope_parts)
    scope_field = _field(_SCOPE, scope_body)
    if len(_GROUPS) < 4:
        _GROUPS[(id(resource), id(scope))] = (resource, scope, resource_field, scope_field)
    return resource_field, scope_field


def encode(spans: Sequence[ReadableSpan]) -> bytes | None:
    """The ``ExportTraceServiceRequest`` the SDK's encoder would make of ``spans``, as
    bytes; ``None`` when they hold what is left to the SDK's encoder."""
    if not spans:
        return None
    first = spans[0]
    resource, scope = first.resource, first.instrumentation_scope
    if resource.schema_url or (scope is not None and scope.schema_url):
        return None
    try:
        body = []
        for span in spans:
            if span.resource is not resource or span.instrumentation_scope is not scope:
                return None
            body.append(_span(span))
        resource_field, scope_field = _group(resource, scope)
    except (_Unsupported, UnicodeEncodeError):
        return None
    scope_spans = _field(_SCOPE_SPANS, scope_field + b"".join(body))
    return _field(_RESOURCE_SPANS, resource_field + scope_spans)


def serialized(spans: Sequence[ReadableSpan]) -> bytes:
    """``spans`` as the request's bytes: written here, or by the SDK's encoder."""
    lean = encode(spans)
    if lean is not None:
        return lean
    data: bytes = encode_spans(spans).SerializePartialToString()
    return data


def request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """``spans`` as the request message (gRPC sends a message): the lean bytes parsed,
    or the SDK's encoder."""
    lean = encode(spans)
    if lean is not None:
        parsed: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(lean)
        return parsed
    return encode_spans(spans)


def http_exporter(endpoint: str, headers: Mapping[str, str], timeout: float) -> SpanExporter:
    """The SDK's OTLP/HTTP exporter, sending the bytes written here."""
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
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            if self._shutdown:
                return super().export(spans)
            with self._metrics.export_operation(len(spans)) as result:
                try:
                    data = serialized(spans)
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
    target: str, insecure: bool, headers: Mapping[str, str], timeout: float
) -> SpanExporter:
    """The SDK's OTLP/gRPC exporter, sending the bytes written here (parsed back into
    the message its stub takes, which the C runtime does cheaply)."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class Grpc(OTLPSpanExporter):
        def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
            return request(data)

    return Grpc(endpoint=target, insecure=insecure, headers=dict(headers), timeout=timeout)
