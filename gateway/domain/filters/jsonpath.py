"""A filter compiled to one SQL/JSON path predicate, which PostgreSQL evaluates when an
event's deliveries are written (``jsonb_path_match``, lax mode).

The path runs over the body (``$``) with the rest of the document as variables
(``$headers``, ``$type``, ``$source``, ``$id``). Each test becomes ``exists(<path> ?
(<condition>))``, which is true or false, never unknown, so ``!``, ``&&`` and ``||``
combine tests as plain logic. Each condition checks the type of the value before
comparing it: a number never equals a string, and an array inside an array is not
searched. :mod:`gateway.domain.filters.evaluate` is the same rules in Python; a property
test runs both on random documents and filters.
"""

from __future__ import annotations

import json
from decimal import Decimal

from gateway.domain.filters.regex import Pattern, literal_are
from gateway.domain.filters.syntax import All, Each, Filter, Index, Key, Not, Scalar, Test

__all__ = ["NUMBER_TEXT", "VARIABLES", "to_jsonpath"]

VARIABLES = ("headers", "type", "source", "id")
"""The document's parts other than the body, passed to ``jsonb_path_match`` as variables."""

NUMBER_TEXT = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?$"
"""A string that a number in a filter also matches, as the number it holds (Shopify's
``"total_price": "254.98"``): plain decimal notation, at most 15 digits each side of the
point, read as a double as PostgreSQL's ``.double()`` reads it."""

_ORDER = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def to_jsonpath(node: Filter) -> str:
    """The predicate for ``jsonb_path_match(body, predicate, variables)``."""
    if isinstance(node, Test):
        return _test(node)
    if isinstance(node, Not):
        return f"!({to_jsonpath(node.part)})"
    joint = " && " if isinstance(node, All) else " || "
    return "(" + joint.join(to_jsonpath(part) for part in node.parts) + ")"


def _test(test: Test) -> str:
    path = ("$" if test.root == "body" else f"${test.root}") + "".join(
        _step(step) for step in test.steps
    )
    if test.op == "$exist":
        return f"exists({path})" if test.operand else f"!exists({path})"
    found = f"exists({path} ? ({_condition(test)}))"
    return f"!{found}" if test.op in ("$neq", "$nin") else found


def _step(step: Key | Index | Each) -> str:
    if isinstance(step, Key):
        return "." + _text(step.name)
    if isinstance(step, Index):
        return f"[{step.position}]"
    return "[*]"


def _condition(test: Test) -> str:
    op, operand = test.op, test.operand
    if op in ("$eq", "$neq"):
        return _equal((operand,))  # type: ignore[arg-type]
    if op in ("$in", "$nin"):
        if isinstance(operand, str):  # a substring
            return _strings(f'@ like_regex {_text(literal_are(operand))} flag "s"')
        return _equal(operand)  # type: ignore[arg-type]
    if op in _ORDER:
        if isinstance(operand, str):
            return _strings(f"@ {_ORDER[op]} {_text(operand)}")
        return _numbers([f"{_ORDER[op]} {_number(operand)}"])  # type: ignore[arg-type]
    if op == "$regex":
        assert isinstance(operand, Pattern)
        return _strings(f'@ like_regex {_text(operand.are())} flag "s"')
    texts = operand if isinstance(operand, tuple) else (operand,)
    if op == "$startsWith":
        return _strings(" || ".join(f"@ starts with {_text(t)}" for t in texts))  # type: ignore[arg-type]
    ends = (f'@ like_regex {_text(literal_are(t) + "$")} flag "s"' for t in texts)  # type: ignore[arg-type]
    return _strings(" || ".join(ends))


def _equal(values: tuple[Scalar, ...]) -> str:
    """Equal to one of ``values``: each compared only with its own type."""
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, Decimal)]
    flags = [v for v in values if isinstance(v, bool)]
    parts = []
    if texts:
        parts.append(_strings(" || ".join(f"@ == {_text(t)}" for t in texts)))
    if numbers:
        parts.append(_numbers([f"== {_number(n)}" for n in numbers]))
    if flags:
        shown = " || ".join("@ == true" if flag else "@ == false" for flag in flags)
        parts.append(f'(@.type() == "boolean" && ({shown}))')
    if any(v is None for v in values):
        parts.append('@.type() == "null"')
    return " || ".join(parts)


def _strings(condition: str) -> str:
    return f'(@.type() == "string" && ({condition}))'


def _numbers(each: list[str]) -> str:
    """A number that compares so, or a string holding one (see :data:`NUMBER_TEXT`)."""
    number = " || ".join(f"@ {c}" for c in each)
    text = " || ".join(f"@.double() {c}" for c in each)
    return (
        f'(@.type() == "number" && ({number})) || (@.type() == "string" && '
        f"@ like_regex {_text(NUMBER_TEXT)} && ({text}))"
    )


def _number(value: Decimal) -> str:
    return format(value, "f")


def _text(value: str) -> str:
    """A string literal of the path language (its escapes are JSON's)."""
    return json.dumps(value, ensure_ascii=False)
