"""The frames between the engine and its worker processes, over the workers' stdin and
stdout: a fixed header, then the parts' bytes, so JSON is never escaped into JSON.

A call: ``!QIII`` (call id, head, request and context lengths), then the head
(``[version, language, source or null]``: the source only the first time a worker sees
that version), the request document and the context, both JSON. An answer: ``!QI``
(call id, length), then ``[seconds, "ok", output]`` or
``[seconds, "failure", message, line, column]``: ``seconds`` the call took in the worker.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

__all__ = ["ANSWER", "CALL", "answer_frame", "call_frame", "read_answers"]

CALL = struct.Struct("!QIII")
ANSWER = struct.Struct("!QI")


def call_frame(call_id: int, head: bytes, request: bytes, context: bytes) -> bytes:
    """One call, framed (``head`` already JSON)."""
    lengths = CALL.pack(call_id, len(head), len(request), len(context))
    return b"".join((lengths, head, request, context))


def answer_frame(call_id: int, answer: list[Any]) -> bytes:
    """One answer, framed."""
    encoded = orjson.dumps(answer)
    return ANSWER.pack(call_id, len(encoded)) + encoded


def read_answers(buffer: bytearray) -> list[tuple[int, Any]]:
    """The complete answers at the start of ``buffer``, taken out of it."""
    answers = []
    at = 0
    while len(buffer) - at >= ANSWER.size:
        call_id, size = ANSWER.unpack_from(buffer, at)
        end = at + ANSWER.size + size
        if len(buffer) < end:
            break
        answers.append((call_id, orjson.loads(buffer[at + ANSWER.size : end])))
        at = end
    del buffer[:at]
    return answers
