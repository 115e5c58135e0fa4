"""The document a filter sees: the event's one document (gateway/domain/document.py),
its body read exactly as PostgreSQL reads it when it routes the event.

PostgreSQL decides what JSON is (``gateway_filter_body`` in migration 0010): a body it
cannot read as ``jsonb`` (not UTF-8, not JSON, a ``\\u0000`` or a lone surrogate in a
string, a number out of ``numeric``'s range) is ``null``. :func:`read_jsonb` refuses the
same, and reads numbers as exact decimals, as ``numeric`` holds them, so the explanation
of a refusal is about the values the routing compared. An XML body's view holds only
strings, so it is the same whichever reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from gateway.domain.document import StoredEvent, event_document

__all__ = ["filter_document", "read_jsonb"]

_MAX_INTEGER_DIGITS = 131072  # numeric's limits
_MAX_SCALE = 16383


def filter_document(event: StoredEvent, hidden_headers: Iterable[str] = ()) -> dict[str, Any]:
    """The document of a stored event as its filters see it (``hidden_headers`` as
    :func:`gateway.domain.document.event_document` takes them)."""
    return event_document(event, hidden_headers, read=read_jsonb)


def read_jsonb(raw: bytes) -> Any:
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
