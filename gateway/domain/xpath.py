"""XPath locations: where an XML source's event id, type or ordering key is.

A source's ``event_id``, ``event_type`` or ``ordering_key`` that starts with ``xpath:``
is an XPath 1.0 expression over the XML body (``xpath:/order/@id``,
``xpath:string(//OrderNumber)``), checked when the source is loaded or saved
(:func:`xpath_problem`). It is evaluated with the namespace prefixes the document
declares on its root element; an element in a default namespace is reached by its
local name (``/*[local-name()='Order']``), or, simpler, by a JSON pointer into the
body's view (gateway/domain/xmlview.py).

The spelling cannot be taken for anything else: a JSON pointer starts with ``/``, and a
header's name cannot hold a ``:``.
"""

from __future__ import annotations

import math
import re
from typing import Final

from lxml import etree

from gateway.domain.xmlview import XmlBody

__all__ = ["XPATH", "XPathFailed", "evaluate_xpath", "is_xpath", "xpath_problem"]

XPATH: Final = "xpath:"
"""What starts a location that is an XPath expression."""

_PROBE: Final = etree.fromstring(b"<probe/>")
_PREFIX_UNKNOWN: Final = "Undefined namespace prefix"
_FUNCTIONS: Final = frozenset(
    {
        # XPath 1.0's core library, and its node tests (which look like calls)
        *("last", "position", "count", "id", "local-name", "namespace-uri", "name"),
        *("string", "concat", "starts-with", "contains", "substring-before"),
        *("substring-after", "substring", "string-length", "normalize-space", "translate"),
        *("boolean", "not", "true", "false", "lang", "number", "sum", "floor", "ceiling"),
        *("round", "node", "text", "comment", "processing-instruction"),
        *("and", "or", "div", "mod"),  # operators, before a parenthesis: "1 div (2)"
    }
)
_LITERAL: Final = re.compile(r"'[^']*'|\"[^\"]*\"")
_CALL: Final = re.compile(r"(?<![\w.:@$-])([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*\(")
_VARIABLE: Final = re.compile(r"\$[A-Za-z_][\w.:-]*")


class XPathFailed(ValueError):
    """The expression cannot be evaluated on this document (a prefix it does not
    declare); the message says why."""


def is_xpath(location: str) -> bool:
    """Whether ``location`` is an XPath expression (``xpath:…``)."""
    return location.startswith(XPATH)


def xpath_problem(location: str) -> str | None:
    """Why the expression of ``location`` (``xpath:…``) is not one the gateway can
    evaluate, or ``None`` when it is: a syntax error, a function XPath 1.0 does not have,
    a variable. A namespace prefix is left to each document to declare."""
    expression = location.removeprefix(XPATH)
    try:
        etree.XPath(expression)
    except etree.XPathError as exc:
        return f"not an XPath 1.0 expression: {exc}"
    code = _LITERAL.sub("''", expression)
    if variable := _VARIABLE.search(code):
        return f"an XPath here has no variables ({variable.group()})"
    unknown = [name for name in _CALL.findall(code) if name not in _FUNCTIONS]
    if unknown:
        return f"{unknown[0]}() is no XPath 1.0 function"
    try:  # what the reading of the text missed, where an empty document reaches it
        _PROBE.xpath(expression)
    except etree.XPathEvalError as exc:
        if str(exc) != _PREFIX_UNKNOWN:
            return f"not an XPath expression the gateway can evaluate: {exc}"
    return None


def evaluate_xpath(location: str, body: XmlBody) -> str | None:
    """The text ``location`` selects in ``body``, or ``None`` when it selects nothing.

    A node set gives its first node's string value (an attribute's value, an element's
    text), a number its decimal text (``7``, ``2.5``), a boolean ``true`` or ``false``;
    white space around the text is trimmed. :class:`XPathFailed` when the expression
    cannot be evaluated on this document.
    """
    root = body.root
    namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if prefix}
    try:
        result = root.xpath(
            location.removeprefix(XPATH), namespaces=namespaces, smart_strings=False
        )
    except etree.XPathError as exc:
        raise XPathFailed(f"{location!r} cannot be evaluated on this document: {exc}") from None
    return _text(result)


def _text(result: object) -> str | None:
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, float):
        if not math.isfinite(result):
            return None
        return str(int(result)) if result.is_integer() else repr(result)
    if isinstance(result, etree._Element):
        result = "".join(str(text) for text in result.itertext())
    if not isinstance(result, str):  # a namespace node
        return None
    return result.strip() or None
