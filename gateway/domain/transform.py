"""A subscriber's transform: JavaScript that reshapes what the subscriber is sent.

The source is read as one of three contracts, so a transform written for a peer ports
over unchanged: ``function handler(request, context)`` (ours, as Svix names it),
``addHandler("transform", (request, context) => ...)`` (Hookdeck) or
``function transform(payload)`` (Convoy: the body in, the new body out). It is wrapped
in a function (:func:`wrap`) so that its top level runs afresh for every event: nothing
one event leaves behind is seen by the next.

Saving a transform compiles it (parse only: none of its code runs here) and refuses a
syntax error with its line and column. Its ``version`` is a digest of language and
source, computed here; every attempt records the version it ran.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from gateway.domain.validation import Invalid

__all__ = [
    "MAX_SOURCE_CHARS",
    "Position",
    "Transform",
    "TransformLanguage",
    "position",
    "version_of",
    "wrap",
]

MAX_SOURCE_CHARS = 65_536
TransformLanguage = Literal["javascript"]

_HEAD = "(function (addHandler) {\n"  # one line of its own: the source's lines keep numbers
_TAIL = (
    "\n;return [typeof handler === 'function' ? handler : undefined,"
    " typeof transform === 'function' ? transform : undefined];\n})"
)
_NAMES = re.compile(r"\b(?:handler|transform|addHandler)\b")
_FRAME = re.compile(r"<input>:(\d+)(?::(\d+))?")


def wrap(source: str) -> str:
    """The source as the function the sandbox makes it: called once per event with
    ``addHandler``, it returns the ``handler`` and ``transform`` functions it defined."""
    return _HEAD + source + _TAIL


def version_of(language: str, source: str) -> str:
    """What identifies a transform's text: 16 hex digits of SHA-256."""
    return hashlib.sha256(f"{language}\n{source}".encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True, slots=True)
class Position:
    """Where in the source an error is: 1-based line and column (None when unknown)."""

    line: int | None
    column: int | None

    def describe(self) -> str:
        if self.line is None:
            return ""
        return f"line {self.line}" + (f", column {self.column}" if self.column else "")


def position(stack: str, source: str) -> Position:
    """The source's line and column of the first frame of ``stack`` (QuickJS's text of an
    error) that is in the transform's code; frames in built-ins have none."""
    match = _FRAME.search(stack)
    if match is None:
        return Position(None, None)
    lines = source.count("\n") + 1
    line = min(max(int(match.group(1)) - 1, 1), lines)  # the wrapper's first line
    column = int(match.group(2)) if match.group(2) else None
    return Position(line, column)


class Transform(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """JavaScript run on each event before it is sent to the subscriber.

    ``version`` is computed from ``language`` and ``source``: leave it out (or send back
    the one read).
    """

    source: Annotated[str, Meta(min_length=1, max_length=MAX_SOURCE_CHARS)]
    language: TransformLanguage = "javascript"
    version: Annotated[str, Meta(description="computed by the gateway")] = ""

    def __post_init__(self) -> None:
        version = version_of(self.language, self.source)
        if self.version and self.version != version:
            raise Invalid("version", "is computed by the gateway from the source: leave it out")
        msgspec.structs.force_setattr(self, "version", version)
        _check(self.source)


@functools.lru_cache(maxsize=256)
def _check(source: str) -> None:
    """Refuse a source that does not parse, or that defines no entry point."""
    error = _syntax_error(source)
    if error is not None:
        raise Invalid("source", error)
    if _NAMES.search(source) is None:
        raise Invalid(
            "source",
            "defines no handler(request), addHandler('transform', ...) or transform(payload)",
        )


def _syntax_error(source: str) -> str | None:
    """QuickJS's parser's verdict, with line and column; the source's code does not run
    (the wrapper is a function expression that is never called)."""
    import quickjs  # the engine is loaded only where transforms are read

    context = quickjs.Context()
    context.set_memory_limit(32 << 20)
    context.set_max_stack_size(256 << 10)
    context.set_time_limit(1.0)
    try:
        context.eval(wrap(source))
    except quickjs.JSException as exc:
        text = str(exc)
        first = text.split("\n", 1)[0]
        where = position(text, source).describe()
        return f"{first} at {where}" if where else first
    return None
