"""The frames between the engine and its worker processes, over the workers' stdin and
stdout: a fixed header, then the parts' bytes, so JSON is never escaped into JSON.

A call: ``!QBIIII`` (call id, flags, then the lengths of the head, the request, the body
and the context), then those parts. The head is ``[version, language, source or null]``
(the source only the first time a worker sees that version); the request is the event's
document as JSON, and the context JSON. With :data:`RAW_BODY`, the request lacks its
``body`` and the body part is the event's body as it came: the worker makes it the
document's last key, as JSON when it is JSON, else ``null``. With :data:`READ`, the
worker reads the handler's answer as the request to send (``output.py``) instead of
answering it as it was returned.

An answer: ``!QII`` (call id, then the lengths of its JSON and of a body), then the JSON:
``[seconds, "ok", output]``, ``[seconds, "send", has_body, content_type, headers, path,
query]`` (the body, when it has one, is the body part), ``[seconds, "cancel"]`` or
``[seconds, "failure", message, line, column]``; ``seconds`` the call took in the worker.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

__all__ = [
    "ANSWER",
    "CALL",
    "RAW_BODY",
    "READ",
    "answer_frame",
    "call_frame",
    "read_answers",
    "with_body",
]

CALL = struct.Struct("!QBIIII")
ANSWER = struct.Struct("!QII")
READ = 1
RAW_BODY = 2


def call_frame(
    call_id: int, flags: int, head: bytes, request: bytes, body: bytes, context: bytes
) -> bytes:
    """One call, framed (every part already JSON, but a raw body)."""
    lengths = CALL.pack(call_id, flags, len(head), len(request), len(body), len(context))
    return b"".join((lengths, head, request, body, context))


def with_body(request: bytes | bytearray, body: bytes | bytearray) -> bytes:
    """The request document (a JSON object) with ``body`` (JSON) as its last key."""
    return b"".join((request[:-1], b',"body":' if len(request) > 2 else b'"body":', body, b"}"))


def answer_frame(call_id: int, answer: list[Any], body: bytes = b"") -> bytes:
    """One answer, framed."""
    encoded = orjson.dumps(answer)
    return b"".join((ANSWER.pack(call_id, len(encoded), len(body)), encoded, body))


def read_answers(buffer: bytearray) -> list[tuple[int, Any, bytes]]:
    """The complete answers at the start of ``buffer`` (id, JSON read, body), taken out
    of it."""
    answers = []
    at = 0
    while len(buffer) - at >= ANSWER.size:
        call_id, size, body_size = ANSWER.unpack_from(buffer, at)
        start = at + ANSWER.size
        end = start + size + body_size
        if len(buffer) < end:
            break
        answer = orjson.loads(buffer[start : start + size])
        answers.append((call_id, answer, bytes(buffer[start + size : end])))
        at = end
    del buffer[:at]
    return answers
