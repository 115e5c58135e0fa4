"""Whether a chunk of bytes is exactly one plain HTTP/1.1 request, judged without a parser.

The overload refusal (ingress/shedding.py) and the fast path (ingress/fastpath.py) answer
a request from its bytes only when this says the bytes are such a request. Only the
plainest framing counts; anything else is left to aiohttp's parser, which is always right.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["WEBHOOK_POST", "PlainRequest", "parse_plain", "plain_request", "webhook_path"]

WEBHOOK_POST = b"POST /webhooks/v1/"
"""How the bytes of every webhook request start (a quick test before any parse)."""
_WEBHOOKS = b"/webhooks/v1/"
_SOURCE = re.compile(rb"[A-Za-z0-9._~-]{1,128}")  # a source name aiohttp reads the same

# Framing or a connection these headers could change: such a request is not plain.
_NOT_PLAIN = (b"\r\ntransfer-encoding:", b"\r\nexpect:", b"\r\nupgrade:")
_CONNECTION = b"\r\nconnection:"
_CONTENT_LENGTH = b"\r\ncontent-length:"


def plain_request(data: bytes) -> tuple[bytes, bytes] | None:
    """``(method, target)`` when ``data`` is one whole HTTP/1.1 request and nothing more:
    its head, one ``Content-Length`` and that many bytes of body, no
    ``Transfer-Encoding``, ``Expect`` or ``Upgrade``, no ``Connection`` but keep-alive.
    ``None`` for anything else (a part of a request, two requests, another framing)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    line_end = data.find(b"\r\n")
    method, _, rest = data[:line_end].partition(b" ")
    target, _, version = rest.partition(b" ")
    if version != b"HTTP/1.1":
        return None
    fields = data[line_end : head_end + 2].lower()
    if any(name in fields for name in _NOT_PLAIN) or fields.count(_CONTENT_LENGTH) != 1:
        return None
    connection = fields.count(_CONNECTION)
    if connection > 1 or (connection and _value(fields, _CONNECTION) != b"keep-alive"):
        return None
    length = _value(fields, _CONTENT_LENGTH)
    if not length.isdigit() or len(data) != head_end + 4 + int(length):
        return None
    return method, target


def webhook_path(target: bytes) -> tuple[str, str] | None:
    """``(path, source)`` of a request target ``/webhooks/v1/{source}`` (any query left
    off), when the source's name is one aiohttp would route the same; else ``None``."""
    path = target.partition(b"?")[0]
    if not path.startswith(_WEBHOOKS) or not _SOURCE.fullmatch(path, len(_WEBHOOKS)):
        return None
    shown = path.decode("ascii")
    return shown, shown[len(_WEBHOOKS) :]


def _value(fields: bytes, name: bytes) -> bytes:
    """The value of the first field called ``name`` (given as ``b"\\r\\nname:"``)."""
    start = fields.index(name) + len(name)
    return fields[start : fields.index(b"\r\n", start)].strip(b" \t")


# aiohttp's own bounds: a head beyond them is its to refuse (400 or 431), not ours to read.
_MAX_LINE = 8190
_MAX_FIELDS = 128
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e]*"  # a token, a colon, printable
_FIELDS = re.compile(rf"{_FIELD}(?:\r\n{_FIELD})*")


class PlainRequest(NamedTuple):
    method: bytes
    target: bytes
    headers: CIMultiDictProxy[str]
    body: bytes


def parse_plain(data: bytes) -> PlainRequest | None:
    """The parts of ``data`` when it is one plain request (:func:`plain_request`) whose
    head is printable ASCII in the plainest form: every field ``name: value`` on one
    line, a token for a name, nothing aiohttp's parser would refuse or read otherwise.
    ``None`` for anything else, which aiohttp then parses."""
    if plain_request(data) is None:
        return None
    head_end = data.index(b"\r\n\r\n")
    try:
        head = data[:head_end].decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = head.split("\r\n")
    if len(lines) > _MAX_FIELDS + 1 or any(len(line) > _MAX_LINE for line in lines):
        return None
    method, target, _ = lines[0].split(" ", 2)
    if not _TOKEN.fullmatch(method) or not target.startswith("/"):
        return None
    fields = lines[1:]
    if fields and not _FIELDS.fullmatch("\r\n".join(fields)):  # every line at once
        return None
    pairs = [(name, value.strip(" \t")) for name, _, value in (f.partition(":") for f in fields)]
    body = data[head_end + 4 :]
    return PlainRequest(
        method.encode(), target.encode(), CIMultiDictProxy(CIMultiDict(pairs)), body
    )
