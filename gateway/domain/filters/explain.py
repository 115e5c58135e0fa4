"""Why a filter refused an event, in one line: ``filter: shipping_address.country_code
$in [DE, AT]: was FR``.

The test that failed is found on the document the filter saw; the value it shows is read
from the document as it may be shown (the body with the privacy rules applied, secret
headers hidden), so an explanation never reveals what the event's page masks.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.domain.filters.evaluate import holds, reach, values
from gateway.domain.filters.regex import Pattern
from gateway.domain.filters.syntax import All, AnyOf, Each, Filter, Index, Key, Not, Test

__all__ = ["describe", "explain"]

_SHOWN_VALUES = 5
_SHOWN_TEXT = 60


def explain(
    node: Filter, document: Mapping[str, Any], shown: Mapping[str, Any] | None = None
) -> str | None:
    """Why ``document`` does not pass ``node`` (values read from ``shown``, by default
    ``document`` itself); ``None`` when it passes."""
    if holds(node, document):
        return None
    return "filter: " + _why(node, document, document if shown is None else shown)


def describe(node: Filter) -> str:
    """The filter in one line: ``total_price $gte 100 and type $eq orders/create``."""
    if isinstance(node, Test):
        return f"{_path(node)} {node.op} {_operand(node.operand)}"
    if isinstance(node, Not):
        return f"$not ({describe(node.part)})"
    joint = " and " if isinstance(node, All) else " or "
    return "(" + joint.join(describe(part) for part in node.parts) + ")"


def _why(node: Filter, document: Mapping[str, Any], shown: Mapping[str, Any]) -> str:
    """Why ``node``, which does not hold, does not."""
    if isinstance(node, Test):
        return f"{describe(node)}: was {_was(node, shown)}"
    if isinstance(node, All):
        failed = next(part for part in node.parts if not holds(part, document))
        return _why(failed, document, shown)
    if isinstance(node, AnyOf):
        return "none of: " + "; ".join(_why(part, document, shown) for part in node.parts)
    if isinstance(node.part, Test):  # $not over one test, which held
        return f"$not {describe(node.part)}: was {_was(node.part, shown)}"
    return f"{describe(node)}: it held"


def _path(test: Test) -> str:
    steps = [_step(step) for step in test.steps]
    if test.root != "body" or not steps:
        steps.insert(0, test.root)
    return ".".join(steps)


def _step(step: Key | Index | Each) -> str:
    if isinstance(step, Key):
        return step.name
    if isinstance(step, Index):
        return str(step.position)
    return "$"


def _operand(operand: object) -> str:
    if isinstance(operand, Pattern):
        return operand.text
    if isinstance(operand, tuple):
        return "[" + ", ".join(_value(v) for v in operand) + "]"
    return _value(operand)


def _was(test: Test, shown: Mapping[str, Any]) -> str:
    found = reach(shown, test) if test.op == "$exist" else values(shown, test)
    if not found:
        return "missing"
    if len(found) == 1:
        return _value(found[0])
    more = ", …" if len(found) > _SHOWN_VALUES else ""
    return "[" + ", ".join(_value(v) for v in found[:_SHOWN_VALUES]) + more + "]"


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if abs(value.adjusted()) < 20 else f"{value:E}"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= _SHOWN_TEXT else value[:_SHOWN_TEXT] + "…"
    return "an object" if isinstance(value, dict) else "a list"
