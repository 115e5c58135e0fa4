"""The document a filter sees, built in Python exactly as PostgreSQL builds it.

``{"type", "source", "id", "headers", "body"}``: the headers as stored (secret ones
``[hidden]``), the body as JSON. PostgreSQL decides what JSON is when it routes an event
(``gateway_event_body`` in migration 0010): a body it cannot read as ``jsonb`` (not
UTF-8, not JSON, a ``\\u0000`` or a lone surrogate in a string, a number out of
``numeric``'s range) is ``null``. :func:`read_json` refuses the same, and reads numbers
as exact decimals, as ``numeric`` holds them, so the explanation of a refusal is about
the values the routing compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["filter_document", "read_json"]

_MAX_INTEGER_DIGITS = 131072  # numeric's limits
_MAX_SCALE = 16383


def filter_document(
    *,
    event_id: str,
    source: str,
    event_type: str | None,
    headers: Mapping[str, str],
    body: bytes,
    body_view: str | None = None,
) -> dict[str, Any]:
    """The document of a stored event; ``body_view`` is the JSON view of a body that is
    not JSON itself (an XML body), which the filter sees in its place."""
    raw = body_view.encode() if body_view is not None else body
    return {
        "type": event_type,
        "source": source,
        "id": event_id,
        "headers": dict(headers),
        "body": read_json(raw),
    }


def read_json(raw: bytes) -> Any:
    """``raw`` as PostgreSQL's ``jsonb`` reads it (numbers as :class:`Decimal`), or
    ``None`` when it does not."""
    if b"\x00" in raw:
        return None
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse
        )
    except (ValueError, RecursionError):
        return None
    return value if _storable(value) else None


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _storable(value: Any) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo += item.values()
            if not all(_text(key) for key in item):
                return False
        elif isinstance(item, list):
            todo += item
        elif isinstance(item, str):
            if not _text(item):
                return False
        elif isinstance(item, Decimal) and not _in_range(item):
            return False
    return True


def _text(text: str) -> bool:
    """No NUL and no lone surrogate (which UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _in_range(number: Decimal) -> bool:
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # parsed from JSON: finite
    return len(digits) + max(exponent, 0) <= _MAX_INTEGER_DIGITS and -exponent <= _MAX_SCALE
