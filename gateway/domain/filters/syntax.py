"""A filter as written (a JSON object, Convoy's and Outpost's syntax) read into a tree.

The filter looks at one document per event: ``{"type", "source", "id", "headers",
"body"}``. Its keys are fields (a dotted path into the document: ``body.line_items.0.sku``,
``$`` for every element of an array) or operators (``$eq`` … ``$not``); nested objects
and dotted keys say the same. A plain value tests equality. Every way a filter can be
wrong is refused here, with where: ``filter.body.amount.$gte: expected a number``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.domain.filters.regex import Pattern, RegexError, parse_regex
from gateway.domain.validation import Invalid

__all__ = [
    "ALIASES",
    "COMPARISONS",
    "MAX_TESTS",
    "ROOTS",
    "All",
    "AnyOf",
    "Each",
    "Filter",
    "Index",
    "Key",
    "Not",
    "Scalar",
    "Test",
    "parse_filter",
]

ROOTS = ("body", "headers", "type", "source", "id")
COMPARISONS = (
    "$eq",
    "$neq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exist",
    "$regex",
    "$startsWith",
    "$endsWith",
)
_LOGIC = ("$and", "$or", "$not")
ALIASES = {"data": "body", "topic": "type"}
"""Outpost's names for parts of the document, taken as written."""
_UNKNOWN_HINTS = {
    "metadata": " (Outpost's metadata: a webhook's are its headers)",
    "time": " (the time an event was received is not a part of it)",
}
MAX_TESTS = 100
MAX_DEPTH = 10
MAX_LIST = 100
MAX_TEXT = 1000
MAX_STEPS = 32
MAX_INDEX = 999_999

Scalar = str | Decimal | bool | None
"""A value a filter compares with; numbers are exact decimals, as PostgreSQL's."""


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Index:
    position: int


@dataclasses.dataclass(frozen=True, slots=True)
class Each:
    pass


Step = Key | Index | Each


@dataclasses.dataclass(frozen=True, slots=True)
class Test:
    """``op`` applied to what ``steps`` reach from the document's ``root``."""

    root: str
    steps: tuple[Step, ...]
    op: str
    operand: Scalar | tuple[Scalar, ...] | Pattern


@dataclasses.dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Filter, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    part: Filter


Filter = Test | All | AnyOf | Not
Path = tuple[str, tuple[Step, ...]]


def parse_filter(raw: Mapping[str, Any]) -> Filter | None:
    """The tree of a filter as written; ``None`` for ``{}`` (every event).

    Raises :class:`Invalid` whose field is where the first error is, from ``filter``.
    """
    if not raw:
        return None
    reader = _Reader()
    return reader.read_object(raw, "filter", None, 0)


class _Reader:
    def __init__(self) -> None:
        self.tests = 0

    def read_object(self, raw: object, at: str, path: Path | None, depth: int) -> Filter:
        if depth > MAX_DEPTH:
            raise Invalid(at, f"nests deeper than {MAX_DEPTH} levels")
        if not isinstance(raw, Mapping) or not raw:
            raise Invalid(at, "expected an object of fields and operators")
        fields = [k for k in raw if not _is_operator(k)]
        tests = [k for k in raw if k in COMPARISONS]
        if fields and tests:
            raise Invalid(
                f"{at}.{tests[0]}", f"an operator cannot stand beside fields ({fields[0]})"
            )
        parts = [self.entry(key, value, f"{at}.{key}", path, depth) for key, value in raw.items()]
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def entry(self, key: str, value: object, at: str, path: Path | None, depth: int) -> Filter:
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise Invalid(at, "expected a list of conditions")
            if len(value) > MAX_LIST:
                raise Invalid(at, f"holds at most {MAX_LIST} conditions")
            parts = tuple(
                self.value(item, f"{at}[{i}]", path, depth + 1) for i, item in enumerate(value)
            )
            return All(parts) if key == "$and" else AnyOf(parts)
        if key == "$not":
            return Not(self.value(value, at, path, depth + 1))
        if key in COMPARISONS:
            if path is None:
                raise Invalid(at, f"an operator tests a field: put it under one of {_roots()}")
            return self.test(path, key, value, at)
        if _is_operator(key):
            raise Invalid(at, f"unknown operator; the operators are {', '.join(COMPARISONS)}, "
                          f"{', '.join(_LOGIC)}")  # fmt: skip
        return self.value(value, at, _extend(path, key, at), depth + 1)

    def value(self, raw: object, at: str, path: Path | None, depth: int) -> Filter:
        if isinstance(raw, Mapping) or path is None:
            return self.read_object(raw, at, path, depth)
        if isinstance(raw, list):
            raise Invalid(at, "a list is no value to compare with: use $in for one of several")
        return self.test(path, "$eq", raw, at)

    def test(self, path: Path, op: str, raw: object, at: str) -> Test:
        self.tests += 1
        if self.tests > MAX_TESTS:
            raise Invalid(at, f"a filter has at most {MAX_TESTS} tests")
        return Test(path[0], path[1], op, _operand(op, raw, at))


def _roots() -> str:
    return ", ".join(ROOTS)


def _is_operator(key: str) -> bool:
    return key.startswith("$") and key != "$" and not key.startswith("$.")


def _extend(path: Path | None, key: str, at: str) -> Path:
    """``path`` followed by the steps of the dotted ``key``."""
    if not key or len(key) > MAX_TEXT:
        raise Invalid(at, f"a field is 1 to {MAX_TEXT} characters")
    words = key.split(".")
    if path is None:
        root, words = ALIASES.get(words[0], words[0]), words[1:]
        if root not in ROOTS:
            hint = _UNKNOWN_HINTS.get(root, "")
            raise Invalid(at, f"a filter looks at {_roots()}; not {root}{hint}")
        path = (root, ())
    root, steps = path
    added = tuple(_step(word, at) for word in words)
    if root == "headers" and not steps and added and isinstance(added[0], Key):
        added = (Key(added[0].name.lower()), *added[1:])  # header names are kept in lower case
    steps = steps + added
    if root == "headers" and (len(steps) > 1 or not all(isinstance(s, Key) for s in steps)):
        raise Invalid(at, "headers.<name> is a header; a header has no fields")
    if root not in ("body", "headers") and steps:
        raise Invalid(at, f"{root} is a text; it has no fields")
    if len(steps) > MAX_STEPS:
        raise Invalid(at, f"a path has at most {MAX_STEPS} steps")
    return root, steps


def _step(word: str, at: str) -> Step:
    if not word:
        raise Invalid(at, "a path has an empty step (two dots, or a dot at an end)")
    if word == "$":
        return Each()
    if word.isdecimal() and word.isascii():
        if len(word) > 6:
            raise Invalid(at, f"an array index is at most {MAX_INDEX}")
        return Index(int(word))
    if word.startswith("$"):
        raise Invalid(at, f"a step of a path cannot start with $ ({word})")
    return Key(_text(word, at))


def _operand(op: str, raw: object, at: str) -> Scalar | tuple[Scalar, ...] | Pattern:
    if op in ("$eq", "$neq"):
        return _scalar(raw, at)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(raw, str) or _is_number(raw):
            return _scalar(raw, at)
        raise Invalid(at, "expected a number or a string")
    if op in ("$in", "$nin"):
        if isinstance(raw, str):  # Outpost: a substring
            return _scalar(raw, at)
        return _list(raw, at, _scalar, "strings, numbers, booleans or nulls")
    if op == "$exist":
        if not isinstance(raw, bool):
            raise Invalid(at, "expected true or false")
        return raw
    if op == "$regex":
        if not isinstance(raw, str):
            raise Invalid(at, "expected a string")
        try:
            return parse_regex(_text(raw, at))
        except RegexError as exc:
            raise Invalid(at, str(exc)) from None
    if isinstance(raw, str):  # $startsWith, $endsWith
        return _text(raw, at)
    return _list(raw, at, _string, "strings")


def _list(raw: object, at: str, item: Any, what: str) -> tuple[Scalar, ...]:
    if not isinstance(raw, list) or not raw:
        raise Invalid(at, f"expected a list of {what}")
    if len(raw) > MAX_LIST:
        raise Invalid(at, f"holds at most {MAX_LIST} values")
    return tuple(item(value, f"{at}[{i}]") for i, value in enumerate(raw))


def _string(raw: object, at: str) -> str:
    if not isinstance(raw, str):
        raise Invalid(at, "expected a string")
    return _text(raw, at)


def _text(raw: str, at: str) -> str:
    if len(raw) > MAX_TEXT:
        raise Invalid(at, f"a text here has at most {MAX_TEXT} characters")
    if "\x00" in raw:
        raise Invalid(at, "holds a NUL character")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(at, "holds a lone surrogate, which is no character") from None
    return raw


def _is_number(raw: object) -> bool:
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


def _scalar(raw: object, at: str) -> Scalar:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return _text(raw, at)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise Invalid(at, "expected a finite number")
        return Decimal(repr(raw))  # the number as written, not its binary approximation
    if isinstance(raw, int | Decimal):
        number = Decimal(raw)
        if not number.is_finite() or abs(number.adjusted()) > 1000:
            raise Invalid(at, "expected a number of at most 1000 digits")
        return number
    raise Invalid(at, "expected a string, number, boolean or null")
