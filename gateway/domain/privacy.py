"""What the gateway hides in everything it shows or passes on: secret headers, masked fields.

Headers: one rule (:func:`is_secret_header`) decides which headers carry a signature or a
credential, and every exit applies it through :func:`hide_headers`: the headers stored
with an event, the API, the console, the headers forwarded to subscribers, a subscriber's
own static headers shown back. A body-only signature (Shopify, WooCommerce, GitHub, a
generic HMAC) lets whoever reads it post the same body again as a new event, so its value
is never shown, only ``[hidden]``.

Bodies: rules are JSON pointers (RFC 6901) such as ``/customer/email`` or
``/billing_address``; a ``*`` segment matches every element of an array or every member
of an object, so ``/line_items/*/email`` works. Subscribers still receive the body as it
was sent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["HIDDEN", "MASK", "hide_headers", "is_secret_header", "redact_body", "redact_document"]

MASK = "[redacted]"
HIDDEN = "[hidden]"
"""What a secret header's value is shown (and stored, and forwarded) as."""

# Every header a scheme reads a signature or a credential from matches this (a test holds
# each scheme's preset header against it): X-Shopify-Hmac-Sha256, X-Hub-Signature(-256),
# X-WC-Webhook-Signature, Stripe-Signature, webhook-signature, Authorization, Cookie,
# Proxy-Authorization, X-Api-Key, and any name that says secret, token, password or session.
_SECRET_NAME = re.compile(
    r"secret|password|passwd|token|authori[sz]ation|signature|hmac|api[-_]?key|cookie|session"
    r"|credential",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)
def _secret_name(lower: str) -> bool:
    return _SECRET_NAME.search(lower) is not None


def is_secret_header(name: str, also: Iterable[str] = ()) -> bool:
    """Whether header ``name`` carries a signature or a credential: by the common rule, or
    because it is one of ``also`` (a source's own ``signature_header``), any case."""
    lower = name.lower()
    return _secret_name(lower) or any(lower == other.lower() for other in also)


def hide_headers(headers: Mapping[str, str], also: Iterable[str] = ()) -> dict[str, str]:
    """``headers`` with the value of every secret header (:func:`is_secret_header`)
    replaced by :data:`HIDDEN`."""
    extra = tuple(also)
    return {
        name: HIDDEN if is_secret_header(name, extra) else value for name, value in headers.items()
    }


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
