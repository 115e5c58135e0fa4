"""Whether a chunk of bytes is exactly one plain HTTP/1.1 request, judged without a parser.

The overload refusal (ingress/shedding.py) answers a request from its bytes only when
this says the bytes are such a request. Only the plainest framing counts; anything else
is left to aiohttp's parser, which is always right.
"""

from __future__ import annotations

__all__ = ["plain_request"]

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


def _value(fields: bytes, name: bytes) -> bytes:
    """The value of the first field called ``name`` (given as ``b"\\r\\nname:"``)."""
    start = fields.index(name) + len(name)
    return fields[start : fields.index(b"\r\n", start)].strip(b" \t")
