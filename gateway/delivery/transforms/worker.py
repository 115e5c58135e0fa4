"""A transform worker process: reads calls on stdin, runs each in the sandbox, in order,
and writes its answer on stdout (``protocol.py``). It ends when stdin closes.

``python -m gateway.delivery.transforms.worker CPU_SECONDS MEMORY STACK OUTPUT``
"""

from __future__ import annotations

import functools
import os
import sys
import time
from typing import Any

import orjson

from gateway.delivery.transforms.protocol import CALL, answer_frame
from gateway.delivery.transforms.sandbox import Bounds, Failure, run
from gateway.domain.transform import Transform


def serve(bounds: Bounds, calls: int, answers: int) -> None:
    """Answer calls read from the file descriptor ``calls`` until it ends. The calls that
    came in one read are answered in one write."""
    sources: dict[str, tuple[str, str]] = {}
    buffer = bytearray()
    while chunk := os.read(calls, 1 << 16):
        buffer += chunk
        out = []
        at = 0
        while len(buffer) - at >= CALL.size:
            call_id, head_size, request_size, context_size = CALL.unpack_from(buffer, at)
            body = at + CALL.size
            end = body + head_size + request_size + context_size
            if len(buffer) < end:
                break
            version, language, source = orjson.loads(buffer[body : body + head_size])
            request = bytes(buffer[body + head_size : body + head_size + request_size])
            context = bytes(buffer[end - context_size : end])
            if source is not None:
                sources[version] = (language, source)
            started = time.perf_counter()
            answer = _answer(sources[version], request, context, bounds)
            out.append(answer_frame(call_id, [time.perf_counter() - started, *answer]))
            at = end
        del buffer[:at]
        _write_all(answers, b"".join(out))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _answer(text: tuple[str, str], request: bytes, context: bytes, bounds: Bounds) -> list[Any]:
    try:
        return ["ok", run(_transform(*text), request, context, bounds)]
    except Failure as failure:
        return ["failure", failure.message, failure.line, failure.column]


@functools.lru_cache(maxsize=256)
def _transform(language: str, source: str) -> Transform:
    return Transform(language=language, source=source)  # type: ignore[arg-type]


def main() -> None:
    cpu, memory, stack, output = sys.argv[1:5]
    bounds = Bounds(float(cpu), int(memory), int(stack), int(output))
    serve(bounds, sys.stdin.fileno(), sys.stdout.fileno())


if __name__ == "__main__":
    main()
