"""Read the event id, type or ordering key of a request: from a header or the body.

A location is a header name; an RFC 6901 JSON pointer into the body as JSON (an XML
body's JSON view) when it starts with ``/``; an XPath expression over an XML body when
it starts with ``xpath:`` (gateway/domain/xpath.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson

from gateway.domain.xmlview import XmlBody
from gateway.domain.xpath import XPathFailed, evaluate_xpath, is_xpath

__all__ = ["INVALID_JSON", "MAX_LENGTH", "ExtractError", "extract", "json_loader", "resolve"]

MAX_LENGTH = 512

INVALID_JSON: object = object()
"""What a :func:`json_loader` callable returns when the body is not JSON."""

_MISSING: object = object()


class ExtractError(ValueError):
    """An extracted value cannot be stored (too long, NUL, not UTF-8), or an XPath cannot
    be evaluated on the document; answered 400."""


def json_loader(body: bytes) -> Callable[[], object]:
    """A callable that parses ``body`` with orjson on its first call and caches the result.

    An invalid body gives :data:`INVALID_JSON` instead of raising.
    """
    cache: list[object] = []

    def parsed() -> object:
        if not cache:
            try:
                cache.append(orjson.loads(body))
            except orjson.JSONDecodeError:
                cache.append(INVALID_JSON)
        return cache[0]

    return parsed


def extract(
    location: str | None,
    headers: Mapping[str, str],
    body: bytes,
    parsed: Callable[[], object] | None = None,
    max_length: int = MAX_LENGTH,
    xml: XmlBody | None = None,
) -> str | None:
    """The value at ``location``, or ``None`` when it is unset, missing, empty or not a scalar.

    ``parsed`` returns the body as JSON (see :func:`json_loader`; an XML body's view);
    without it the body is parsed here. ``xml`` is the parsed XML body, if it is XML: an
    XPath location on any other body finds nothing. A number becomes its decimal string,
    a boolean ``true``/``false``. Raises :class:`ExtractError` when the value is longer
    than ``max_length`` characters or holds a NUL or a character that is not valid UTF-8.
    """
    if not location:
        return None
    if location.startswith("/"):
        document = (parsed or json_loader(body))()
        value = None if document is INVALID_JSON else _scalar(resolve(document, location))
    elif is_xpath(location):
        value = None if xml is None else _evaluate(location, xml)
    else:
        value = headers.get(location)
    if not value:
        return None
    _check(value, max_length)
    return value


def _evaluate(location: str, xml: XmlBody) -> str | None:
    try:
        return evaluate_xpath(location, xml)
    except XPathFailed as exc:
        raise ExtractError(str(exc)) from None


def resolve(document: object, pointer: str) -> object:
    """Follow an RFC 6901 pointer (``~0`` is ``~``, ``~1`` is ``/``); missing gives ``None``."""
    node = document
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and _is_index(key) and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
        if node is _MISSING:
            return None
    return node


def _is_index(segment: str) -> bool:
    """An RFC 6901 array index: ASCII digits, no leading zero."""
    digits = segment.isascii() and segment.isdigit()
    return digits and (segment == "0" or not segment.startswith("0"))


def _scalar(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _check(value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise ExtractError(f"value is longer than {max_length} characters")
    if "\x00" in value:
        raise ExtractError("value contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ExtractError("value is not valid UTF-8") from None
