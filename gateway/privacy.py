"""Masking of personal data in what the gateway shows about an event (API, logs, console).

Rules are JSON pointers (RFC 6901) such as ``/customer/email`` or ``/billing_address``;
a ``*`` segment matches every element of an array or every member of an object, so
``/line_items/*/email`` works. Subscribers still receive the body as it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["MASK", "redact_body", "redact_document"]

MASK = "[redacted]"


def _segments(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _mask(node: Any, path: list[str]) -> Any:
    if not path:
        return MASK
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        return {k: (_mask(v, rest) if k in keys else v) for k, v in node.items()}
    if isinstance(node, list):
        if head == "*":
            return [_mask(v, rest) for v in node]
        if head.isdigit() and int(head) < len(node):
            index = int(head)
            return [(_mask(v, rest) if i == index else v) for i, v in enumerate(node)]
    return node


def redact_document(document: Any, pointers: Iterable[str]) -> Any:
    """A copy of ``document`` with every value a pointer names replaced by the mask."""
    for pointer in pointers:
        if pointer.startswith("/"):
            document = _mask(document, _segments(pointer))
    return document


def redact_body(body: bytes, pointers: Iterable[str]) -> bytes:
    """The body with the rules applied when it is JSON; other bodies come back unchanged."""
    rules = list(pointers)
    if not rules:
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps(redact_document(document, rules))
