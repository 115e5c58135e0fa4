"""A transform worker process: reads calls on stdin, runs each in the sandbox, in order,
and writes its answer on stdout (``protocol.py``). It ends when stdin closes.

``python -m gateway.delivery.transforms.worker CPU_SECONDS MEMORY STACK OUTPUT``
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, BinaryIO

import orjson

from gateway.delivery.transforms.protocol import CALL, answer_frame
from gateway.delivery.transforms.sandbox import Bounds, Failure, run
from gateway.domain.transform import Transform


def serve(bounds: Bounds, calls: BinaryIO, answers: BinaryIO) -> None:
    """Answer calls until ``calls`` ends."""
    sources: dict[str, tuple[str, str]] = {}
    while True:
        lengths = calls.read(CALL.size)
        if len(lengths) < CALL.size:
            return
        call_id, head_size, request_size, context_size = CALL.unpack(lengths)
        version, language, source = orjson.loads(calls.read(head_size))
        request = calls.read(request_size)
        context = calls.read(context_size)
        if source is not None:
            sources[version] = (language, source)
        started = time.perf_counter()
        answer = _answer(sources[version], request, context, bounds)
        answers.write(answer_frame(call_id, [time.perf_counter() - started, *answer]))
        answers.flush()


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
    serve(bounds, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
