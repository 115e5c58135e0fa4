"""A filter evaluated in Python, by the rules PostgreSQL applies to its compiled path.

A path reaches a set of values: each key step looks into an object, and into every
object of an array (one level); ``$`` takes every element of an array; an index takes
one element (and, as PostgreSQL's lax mode does, ``0`` takes a value that is no array
itself). A test holds when any value it reaches (an array's elements in its place)
satisfies it; ``$neq`` and ``$nin`` hold when none equals, so also when nothing is
there. A number in a filter also matches a string holding a number in plain notation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from gateway.domain.filters.jsonpath import NUMBER_TEXT
from gateway.domain.filters.regex import Matcher, Pattern
from gateway.domain.filters.syntax import All, AnyOf, Each, Filter, Index, Key, Scalar, Test

__all__ = ["holds", "reach", "values"]

_NUMBER_TEXT = re.compile(NUMBER_TEXT.replace("$", r"\Z"))


def holds(node: Filter, document: Mapping[str, Any]) -> bool:
    """Whether ``document`` (``{"type", "source", "id", "headers", "body"}``) passes."""
    if isinstance(node, Test):
        return _holds(node, document)
    if isinstance(node, All):
        return all(holds(part, document) for part in node.parts)
    if isinstance(node, AnyOf):
        return any(holds(part, document) for part in node.parts)
    return not holds(node.part, document)


def reach(document: Mapping[str, Any], test: Test) -> list[Any]:
    """The values ``test``'s path reaches in ``document``."""
    items = [document.get(test.root)]
    for step in test.steps:
        following: list[Any] = []
        for item in items:
            if isinstance(step, Key):
                objects = item if isinstance(item, list) else (item,)
                following += [
                    o[step.name] for o in objects if isinstance(o, dict) and step.name in o
                ]
            elif isinstance(step, Index):
                if isinstance(item, list):
                    following += item[step.position : step.position + 1]
                elif step.position == 0:
                    following.append(item)
            else:
                assert isinstance(step, Each)
                following += item if isinstance(item, list) else [item]
        items = following
    return items


def values(document: Mapping[str, Any], test: Test) -> list[Any]:
    """What ``test`` compares: the values reached, an array's elements in its place."""
    found: list[Any] = []
    for item in reach(document, test):
        found += item if isinstance(item, list) else [item]
    return found


def _holds(test: Test, document: Mapping[str, Any]) -> bool:
    if test.op == "$exist":
        return bool(reach(document, test)) == test.operand
    found = any(_satisfies(test.op, test.operand, value) for value in values(document, test))
    return not found if test.op in ("$neq", "$nin") else found


def _satisfies(op: str, operand: Any, value: Any) -> bool:
    if op in ("$eq", "$neq"):
        return _equals(value, operand)
    if op in ("$in", "$nin"):
        if isinstance(operand, str):
            return isinstance(value, str) and operand in value
        return any(_equals(value, one) for one in operand)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _ordered(op, value, operand)
    if not isinstance(value, str):
        return False
    if op == "$regex":
        return _matcher(operand).search(value)
    texts: Iterable[str] = operand if isinstance(operand, tuple) else (operand,)
    if op == "$startsWith":
        return any(value.startswith(t) for t in texts)
    return any(value.endswith(t) for t in texts)


def _equals(value: Any, operand: Scalar) -> bool:
    if operand is None:
        return value is None
    if isinstance(operand, bool):
        return isinstance(value, bool) and value is operand
    if isinstance(operand, str):
        return isinstance(value, str) and value == operand
    number = _number(value)
    return number is not None and number == operand


def _ordered(op: str, value: Any, operand: Scalar) -> bool:
    if isinstance(operand, str):
        left: Any = value if isinstance(value, str) else None
    else:
        left = _number(value)
    if left is None:
        return False
    if op == "$gt":
        return bool(left > operand)
    if op == "$gte":
        return bool(left >= operand)
    if op == "$lt":
        return bool(left < operand)
    return bool(left <= operand)


def _number(value: Any) -> int | float | Decimal | None:
    """``value`` as a number: itself, or the number a string holds (as a double, rounded
    to 15 significant digits as PostgreSQL's ``.double()`` gives it); else ``None``."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value):
        return Decimal(format(float(value), ".15g"))
    return None


@functools.lru_cache(maxsize=256)
def _matcher(pattern: Pattern) -> Matcher:
    return Matcher(pattern)
