"""A transform worker process: reads calls on stdin, runs each in the sandbox, in order,
and writes its answers on stdout (``protocol.py``). It ends when stdin closes.

``python -m gateway.delivery.transforms.worker CPU_SECONDS MEMORY STACK OUTPUT [SLOT_FD]``

The calls that came in one read are answered in one write, unless the answers held back
have waited :data:`_FLUSH_SECONDS`: so a batch costs one write each way, and a slow call
holds back the answers before it by little more than its own time. ``SLOT_FD`` is a file
of 8 bytes shared with the engine: the worker writes there the id of the call it runs
(0 between calls), so that when it dies, the engine knows which call killed it, even
when answers to earlier calls of the batch were still held back.
"""

from __future__ import annotations

import functools
import mmap
import os
import sys
import time
from typing import Any

import orjson

from gateway.delivery.transforms.output import Cancel, read_output
from gateway.delivery.transforms.protocol import CALL, RAW_BODY, READ, answer_frame, with_body
from gateway.delivery.transforms.sandbox import Bounds, Failure, run
from gateway.domain.document import body_json
from gateway.domain.transform import Transform

_Parts = tuple[bytearray, bytearray, bytearray, bytearray]  # head, request, body, context
_READ_BYTES = 1 << 18
_FLUSH_SECONDS = 0.001


def serve(bounds: Bounds, calls: int, answers: int, running: memoryview | None = None) -> None:
    """Answer calls read from the file descriptor ``calls`` until it ends, on ``answers``;
    ``running`` (one unsigned 64-bit item) says which call runs now."""
    sources: dict[str, tuple[str, str]] = {}
    buffer = bytearray()
    while chunk := os.read(calls, _READ_BYTES):
        buffer += chunk
        held: list[bytes] = []
        since = 0.0
        at = 0
        while (call := _next_call(buffer, at)) is not None:
            at, call_id, flags, parts = call
            if running is not None:
                running[0] = call_id
            started = time.perf_counter()
            answer, sent = _answer(sources, parts, bounds, flags)
            finished = time.perf_counter()
            held.append(_framed(call_id, finished - started, answer, sent))
            if running is not None:  # the call is done once its answer is framed
                running[0] = 0
            if len(held) == 1:
                since = finished
            elif finished - since >= _FLUSH_SECONDS:
                _write_all(answers, b"".join(held))
                held.clear()
        del buffer[:at]
        if held:
            _write_all(answers, b"".join(held))


def _next_call(buffer: bytearray, at: int) -> tuple[int, int, int, _Parts] | None:
    """The call framed at ``at`` in ``buffer`` (where it ends, its id, flags and parts);
    None while the buffer does not hold all of it."""
    if len(buffer) - at < CALL.size:
        return None
    call_id, flags, head, request, body, context = CALL.unpack_from(buffer, at)
    head_at = at + CALL.size
    request_at = head_at + head
    body_at = request_at + request
    context_at = body_at + body
    end = context_at + context
    if len(buffer) < end:
        return None
    parts = (
        buffer[head_at:request_at],
        buffer[request_at:body_at],
        buffer[body_at:context_at],
        buffer[context_at:end],
    )
    return end, call_id, flags, parts


def _framed(call_id: int, seconds: float, answer: list[Any], body: bytes) -> bytes:
    try:
        return answer_frame(call_id, [seconds, *answer], body)
    except orjson.JSONEncodeError as exc:  # an output nested deeper than orjson writes
        return answer_frame(call_id, [seconds, "failure", f"its output cannot be read: {exc}"])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _answer(
    sources: dict[str, tuple[str, str]], parts: _Parts, bounds: Bounds, flags: int
) -> tuple[list[Any], bytes]:
    """The answer's JSON and its body part; ``sources`` holds the sources seen so far."""
    head, request, body, context = parts
    version, language, source = orjson.loads(head)
    if source is not None:
        sources[version] = (language, source)
    document: bytes | bytearray = request
    if flags & RAW_BODY:
        document = with_body(request, body if body_json(bytes(body)) is not None else b"null")
    try:
        output = run(_transform(*sources[version]), document, context, bounds)
        if not flags & READ:
            return ["ok", output], b""
        reshaped = read_output(output, _headers(output, request), bounds.output_bytes)
    except Failure as failure:
        return ["failure", failure.message, failure.line, failure.column], b""
    if isinstance(reshaped, Cancel):
        return ["cancel"], b""
    r = reshaped
    return ["send", r.body is not None, r.content_type, r.headers, r.path, r.query], r.body or b""


def _headers(output: Any, request: bytes | bytearray) -> Any:
    """The request's headers, read only when the handler answered headers of its own."""
    if isinstance(output, dict) and output.get("headers"):
        return orjson.loads(request).get("headers") or {}
    return {}


@functools.lru_cache(maxsize=256)
def _transform(language: str, source: str) -> Transform:
    return Transform(language=language, source=source)  # type: ignore[arg-type]


def _slot(fd: int) -> memoryview:
    """The shared slot the engine reads the running call's id from."""
    shared = mmap.mmap(fd, 8)
    os.close(fd)
    return memoryview(shared).cast("Q")


def main() -> None:
    cpu, memory, stack, output = sys.argv[1:5]
    bounds = Bounds(float(cpu), int(memory), int(stack), int(output))
    running = _slot(int(sys.argv[5])) if len(sys.argv) > 5 else None
    serve(bounds, sys.stdin.fileno(), sys.stdout.fileno(), running)


if __name__ == "__main__":
    main()
