"""A filter compiled once into Python closures, for the ingress to route an event by.

The same rules as :mod:`gateway.domain.filters.evaluate`, specialised when the filter is
compiled (each test's path and operands turned into one function each) instead of read
again for every event, over the body as orjson parses it. orjson reads a number with a
fraction or an exponent as a binary float, not as the exact decimal PostgreSQL holds, so
a test that would compare such a float as a number does not answer: it raises
:class:`Unsure`, and PostgreSQL decides for that event. So does a ``$regex`` over a text
longer than :data:`REGEX_TEXT_LIMIT` (the ingress does not spend its loop on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from gateway.domain.filters.jsonpath import NUMBER_TEXT
from gateway.domain.filters.regex import Matcher, Pattern
from gateway.domain.filters.syntax import All, AnyOf, Each, Filter, Index, Key, Not, Scalar, Test

__all__ = ["REGEX_TEXT_LIMIT", "Check", "Reach", "Unsure", "compile_check", "reach_of"]

REGEX_TEXT_LIMIT = 1000
"""The longest text a compiled ``$regex`` searches; a longer one is left to PostgreSQL."""

Check = Callable[[Mapping[str, Any]], bool]
"""Whether a document (``{"type", "source", "id", "headers", "body"}``) passes; raises
:class:`Unsure` when the answer is PostgreSQL's to give."""

Reach = Callable[[Mapping[str, Any]], list[Any]]
"""What a path reaches in a document."""
_Satisfies = Callable[[Any], bool]

_NUMBER_TEXT = re.compile(NUMBER_TEXT.replace("$", r"\Z"))
_MISSING: Any = object()


class Unsure(Exception):
    """The compiled filter cannot tell exactly what PostgreSQL would (a float compared as
    a number, or a long text for a pattern)."""


def compile_check(node: Filter) -> Check:
    """``node`` as one function of a document."""
    if isinstance(node, Test):
        return _test(node)
    if isinstance(node, Not):
        part = compile_check(node.part)
        return lambda document: not part(document)
    parts = tuple(compile_check(part) for part in node.parts)
    if isinstance(node, All):

        def every(document: Mapping[str, Any]) -> bool:
            for part in parts:  # noqa: SIM110 - all() over a generator costs more a call
                if not part(document):
                    return False
            return True

        return every
    assert isinstance(node, AnyOf)

    def some(document: Mapping[str, Any]) -> bool:
        for part in parts:  # noqa: SIM110 - any() over a generator costs more a call
            if part(document):
                return True
        return False

    return some


def _test(test: Test) -> Check:
    reach = reach_of(test.root, test.steps)
    if test.op == "$exist":
        wanted = bool(test.operand)
        return lambda document: bool(reach(document)) is wanted
    satisfies = _satisfies(test.op, test.operand)

    def found(document: Mapping[str, Any]) -> bool:
        for item in reach(document):
            if isinstance(item, list):
                for value in item:
                    if satisfies(value):
                        return True
            elif satisfies(item):
                return True
        return False

    if test.op in ("$neq", "$nin"):
        return lambda document: not found(document)
    return found


def reach_of(root: str, steps: tuple[Key | Index | Each, ...]) -> Reach:
    """What the path reaches: ``[document[root]]`` followed through each step."""
    moves = tuple(_move(step) for step in steps)

    def reach(document: Mapping[str, Any]) -> list[Any]:
        items = [document[root]]
        for move in moves:
            items = move(items)
            if not items:
                break
        return items

    if not all(isinstance(step, Key) for step in steps):
        return reach
    names = tuple(step.name for step in steps if isinstance(step, Key))

    def through_objects(document: Mapping[str, Any]) -> list[Any]:
        """The same, quicker while each step meets an object (no array on the way)."""
        item = document[root]
        for name in names:
            if not isinstance(item, dict):
                return reach(document)
            item = item.get(name, _MISSING)
            if item is _MISSING:
                return []
        return [item]

    return through_objects


def _move(step: Key | Index | Each) -> Callable[[list[Any]], list[Any]]:
    if isinstance(step, Key):
        name = step.name

        def key(items: list[Any]) -> list[Any]:
            following = []
            for item in items:
                if isinstance(item, dict):
                    if name in item:
                        following.append(item[name])
                elif isinstance(item, list):
                    following += [o[name] for o in item if isinstance(o, dict) and name in o]
            return following

        return key
    if isinstance(step, Index):
        at = step.position

        def index(items: list[Any]) -> list[Any]:
            following = []
            for item in items:
                if isinstance(item, list):
                    following += item[at : at + 1]
                elif at == 0:
                    following.append(item)
            return following

        return index

    def each(items: list[Any]) -> list[Any]:
        following: list[Any] = []
        for item in items:
            if isinstance(item, list):
                following += item
            else:
                following.append(item)
        return following

    return each


def _satisfies(op: str, operand: Scalar | tuple[Scalar, ...] | Pattern) -> _Satisfies:
    """Whether one value passes the comparison (an array's elements are given one by one)."""
    if op in ("$eq", "$neq"):
        return _one_of((operand,))  # type: ignore[arg-type]
    if op in ("$in", "$nin"):
        if isinstance(operand, str):  # a substring
            text = operand
            return lambda value: isinstance(value, str) and text in value
        return _one_of(operand)  # type: ignore[arg-type]
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _ordered(op, operand)  # type: ignore[arg-type]
    if op == "$regex":
        assert isinstance(operand, Pattern)
        return _pattern(Matcher(operand))
    texts = operand if isinstance(operand, tuple) else (operand,)
    fixes = tuple(t for t in texts if isinstance(t, str))  # all are: the syntax says so
    if op == "$startsWith":
        return lambda value: isinstance(value, str) and value.startswith(fixes)
    return lambda value: isinstance(value, str) and value.endswith(fixes)


def _one_of(operands: tuple[Scalar, ...]) -> _Satisfies:
    """Equal to one of ``operands``, each compared only with its own type."""
    texts = frozenset(v for v in operands if isinstance(v, str))
    numbers = frozenset(v for v in operands if isinstance(v, Decimal))
    flags = tuple(v for v in operands if isinstance(v, bool))
    null = any(v is None for v in operands)

    def equals(value: Any) -> bool:
        if isinstance(value, str):
            if value in texts:
                return True
            return bool(numbers) and _text_number(value) in numbers
        if isinstance(value, bool):
            return value in flags
        if isinstance(value, int | Decimal):
            return value in numbers
        if isinstance(value, float):
            if numbers:
                raise Unsure
            return False
        return null and value is None

    return equals


def _ordered(op: str, operand: str | Decimal) -> _Satisfies:
    compare: Callable[[Any], bool] = {
        "$gt": operand.__lt__,  # value > operand
        "$gte": operand.__le__,
        "$lt": operand.__gt__,
        "$lte": operand.__ge__,
    }[op]
    if isinstance(operand, str):
        return lambda value: isinstance(value, str) and compare(value)

    def numeric(value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, int | Decimal):
            return compare(value)
        if isinstance(value, str):
            number = _text_number(value)
            return number is not None and compare(number)
        if isinstance(value, float):
            raise Unsure
        return False

    return numeric


def _pattern(matcher: Matcher) -> _Satisfies:
    def search(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if len(value) > REGEX_TEXT_LIMIT:
            raise Unsure
        return matcher.search(value)

    return search


def _text_number(value: str) -> Decimal | None:
    """The number a string holds in plain notation, read as PostgreSQL's ``.double()``
    reads it (see :data:`gateway.domain.filters.jsonpath.NUMBER_TEXT`)."""
    if _NUMBER_TEXT.match(value):
        return Decimal(format(float(value), ".15g"))
    return None
