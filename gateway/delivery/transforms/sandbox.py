"""QuickJS, closed: the one place a transform's code runs.

Each transform gets a QuickJS context of its own (a runtime: its own heap, bounded),
kept in the worker process (``worker.py``) and reused across events; ``prelude.js``
runs first in it, taking away the clock and randomness and freezing every built-in, so
an event cannot leave anything behind for the next. QuickJS has no I/O of its own and
none is added: no ``std`` or ``os`` modules, no ``require``, no ``fetch``, no timers.

Every call is bounded: CPU time (QuickJS's interrupt, which reaches regular expressions
too), heap, stack depth and the size of the output. A context that hit a bound is
dropped; the next call builds a new one.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.resources
import threading
from typing import Any

import orjson

from gateway.domain.transform import Transform, position, wrap

__all__ = ["Bounds", "Failure", "run"]

_PRELUDE = importlib.resources.files(__package__).joinpath("prelude.js").read_text("utf-8")
_CONTEXTS_PER_THREAD = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """What one call may use."""

    cpu_seconds: float = 0.05
    memory_bytes: int = 32 << 20
    stack_bytes: int = 256 << 10
    output_bytes: int = 1 << 20


class Failure(Exception):
    """The transform threw, or hit a bound: the message and where in its source."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def describe(self) -> str:
        """The message, and its line and column when known."""
        if self.line is None:
            return self.message
        column = f", column {self.column}" if self.column else ""
        return f"{self.message} (line {self.line}{column})"


class _Context:
    """A context holding one transform, compiled, and the prelude's runner."""

    def __init__(self, transform: Transform, bounds: Bounds) -> None:
        import quickjs

        self.context = quickjs.Context()
        self.context.set_memory_limit(bounds.memory_bytes)
        self.context.set_max_stack_size(bounds.stack_bytes)
        self.context.set_time_limit(bounds.cpu_seconds)
        self.runner = self.context.eval(_PRELUDE)
        self.wrapped = self.context.eval(wrap(transform.source))


class _Local(threading.local):
    def __init__(self) -> None:
        self.contexts: collections.OrderedDict[tuple[str, Bounds], _Context] = (
            collections.OrderedDict()
        )


_local = _Local()


def run(
    transform: Transform, request: bytes | bytearray, context: bytes | bytearray, bounds: Bounds
) -> Any:
    """The transform's output (``{"output": ...}`` as JSON, read) on one request document.

    ``request`` and ``context`` are JSON text. Raises :class:`Failure`. Called in a
    worker process, never on the event loop.
    """
    import quickjs

    key = (transform.version, bounds)
    contexts = _local.contexts
    held = contexts.pop(key, None)
    try:
        if held is None:
            held = _Context(transform, bounds)
        text = held.runner(held.wrapped, request.decode(), context.decode(), bounds.output_bytes)
    except quickjs.StackOverflow as exc:
        raise _failure("recursed too deep (stack bound)", str(exc), transform) from None
    except quickjs.JSException as exc:
        raise _bound_failure(str(exc), transform, bounds) from None
    contexts[key] = held
    if len(contexts) > _CONTEXTS_PER_THREAD:
        contexts.popitem(last=False)
    try:
        result = orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # nested too deep, or a lone surrogate
        raise Failure(f"its output cannot be read: {exc}") from None
    if "error" in result:
        raise _bound_failure(f"{result['error']}\n{result['stack']}", transform, bounds)
    if "contract" in result:
        raise Failure(result["contract"])
    if len(text) > bounds.output_bytes:  # characters were counted; bytes bound too
        raise Failure(f"its output is over the bound of {bounds.output_bytes} bytes")
    return result["output"]


def _bound_failure(text: str, transform: Transform, bounds: Bounds) -> Failure:
    first = text.split("\n", 1)[0]
    if first == "InternalError: interrupted":
        ms = round(bounds.cpu_seconds * 1000)
        return _failure(f"ran longer than its bound of {ms} ms", text, transform)
    if first.startswith("InternalError: out of memory"):
        mib = bounds.memory_bytes >> 20
        return _failure(f"used more memory than its bound of {mib} MiB", text, transform)
    if first.startswith("RangeError: Maximum call stack size exceeded"):
        return _failure("recursed too deep (stack bound)", text, transform)
    return _failure(first, text, transform)


def _failure(message: str, stack: str, transform: Transform) -> Failure:
    where = position(stack, transform.source)
    return Failure(message, where.line, where.column)
