"""What a transform answers, read: the request to send instead, or "do not send".

The handler returns the request as it should go out (a Hookdeck handler returns the one
it was given, changed), each key optional:

- ``body``: JSON (sent as JSON) or a string (sent as it is); left out, the event's body
  goes unchanged, byte for byte;
- ``content_type``: the body's media type (default: the event's for an unchanged body,
  ``application/json`` for JSON, ``text/plain; charset=utf-8`` for a string);
- ``headers``: ``{name: value}`` added to the request (the event's own headers, handed
  back unchanged, are not: ``forward_headers`` decides those); never the gateway's own;
- ``path``: appended to the subscriber URL's path (``"/orders"``);
- ``query``: ``{name: value}`` (or ``"a=1&b=2"``) appended to its query;
- ``cancel: true``: this event is not sent to this subscriber.

``type``, ``source`` and ``id`` (the request's own) are ignored; any other key is an
error, so a misspelt one is not lost silently.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.delivery.transforms.sandbox import Failure

__all__ = ["Cancel", "Reshaped", "read_output"]

_KEYS = frozenset({"body", "content_type", "headers", "path", "query", "cancel"})
_IGNORED = frozenset({"type", "source", "id"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_RESERVED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
_MAX_HEADERS = 64
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


@dataclasses.dataclass(frozen=True, slots=True)
class Reshaped:
    """The request to send: ``body`` None keeps the event's (and its content type)."""

    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    path: str = ""
    query: str = ""

    def url(self, base: str) -> str:
        """``base`` with the path appended and the query added."""
        if not self.path and not self.query:
            return base
        parts = urllib.parse.urlsplit(base)
        path = parts.path.rstrip("/") + self.path if self.path else parts.path
        query = "&".join(q for q in (parts.query, self.query) if q)
        return urllib.parse.urlunsplit(parts._replace(path=path, query=query))


@dataclasses.dataclass(frozen=True, slots=True)
class Cancel:
    """The transform chose not to send this event to this subscriber."""


def read_output(output: Any, inbound: Mapping[str, str], max_bytes: int) -> Reshaped | Cancel:
    """The handler's answer, checked (raises :class:`Failure` naming what is wrong)."""
    if not isinstance(output, dict):
        raise Failure(
            "the handler must return the request (an object), or {cancel: true};"
            f" it returned {_kind(output)}"
        )
    unknown = sorted(set(output) - _KEYS - _IGNORED)
    if unknown:
        raise Failure(f"the handler returned unknown keys: {', '.join(unknown)}")
    cancel = output.get("cancel", False)
    if not isinstance(cancel, bool):
        raise Failure(f"cancel must be true or false, not {_kind(cancel)}")
    if cancel:
        return Cancel()
    body, content_type = _body(output, max_bytes)
    return Reshaped(
        body=body,
        content_type=content_type,
        headers=_headers(output.get("headers"), inbound),
        path=_path(output.get("path")),
        query=_query(output.get("query")),
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def _body(output: dict[str, Any], max_bytes: int) -> tuple[bytes | None, str | None]:
    content_type = output.get("content_type")
    if content_type is not None and (
        not isinstance(content_type, str)
        or not content_type
        or len(content_type) > 200
        or _BAD_VALUE.search(content_type)
    ):
        raise Failure("content_type must be a media type (a string on one line)")
    if "body" not in output:
        return None, content_type
    value = output["body"]
    if isinstance(value, str):
        body = value.encode()
        content_type = content_type or "text/plain; charset=utf-8"
    else:
        try:
            body = orjson.dumps(value)
        except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
            raise Failure(f"its body cannot be sent as JSON: {exc}") from None
        content_type = content_type or "application/json"
    if len(body) > max_bytes:
        raise Failure(f"its body is {len(body)} bytes, over the bound of {max_bytes}")
    return body, content_type


def _headers(value: Any, inbound: Mapping[str, str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _MAX_HEADERS:
        raise Failure(f"headers must be an object of at most {_MAX_HEADERS} names")
    added: dict[str, str] = {}
    for name, header in value.items():
        lower = name.lower()
        if inbound.get(lower) == header:
            continue
        if not isinstance(header, str) or _BAD_VALUE.search(header):
            raise Failure(f"header {name!r} must be a string on one line")
        if not _TOKEN.match(name):
            raise Failure(f"{name!r} is not a header name")
        if lower in _RESERVED or lower.startswith(("webhook-", "x-gateway-")):
            raise Failure(f"header {name!r} is the gateway's to set")
        added[name] = header
    return added


def _path(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2048:
        raise Failure("path must be a string starting with /")
    if any(segment in (".", "..") for segment in value.split("/")) or _BAD_VALUE.search(value):
        raise Failure("path must not hold . or .. segments or control characters")
    return urllib.parse.quote(value, safe=_PATH_SAFE)


def _query(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        pairs = urllib.parse.parse_qsl(value.removeprefix("?"), keep_blank_values=True)
    elif isinstance(value, dict):
        pairs = [(k, _scalar(k, v)) for k, v in value.items()]
    else:
        raise Failure("query must be an object of names to values, or a string")
    text = urllib.parse.urlencode(pairs)
    if len(text) > 2048:
        raise Failure("query is over 2048 characters")
    return text


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Failure(f"query {name!r} must be a string, number or boolean")
