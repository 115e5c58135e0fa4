"""Answers written as bytes, as aiohttp would write them, for the paths that answer from a
request's bytes before aiohttp has a request (the ingress fast path, its overload refusal,
the slow client's 408).

Every such answer has the headers an answer of the ingress app has, whichever path wrote
it: its status line, ``Content-Type``, any headers of its own (``Retry-After``, ``Allow``,
``Accept-Encoding``), ``Content-Length``, ``Date`` and, when the connection then closes,
``Connection: close``; no ``Server`` (ingress/serverheader.py).
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from typing import Final

from gateway.http.internals import http_date

__all__ = ["encode_answer"]

_HEADS: dict[tuple[int, str], bytes] = {}  # status line and Content-Type, by both
_MAX_HEADS: Final = 64
_CLOSE: Final = b"Connection: close\r\n"


def encode_answer(
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    close: bool = False,
) -> bytes:
    """The whole HTTP/1.1 answer: ``status`` with ``body`` of ``content_type``, and
    ``headers``; ``close`` when the connection closes after it."""
    head = _HEADS.get((status, content_type))
    if head is None:
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n" % (
            status,
            http.HTTPStatus(status).phrase.encode(),
            content_type.encode(),
        )
        if len(_HEADS) < _MAX_HEADS:
            _HEADS[(status, content_type)] = head
    extra = (
        b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items())
        if headers
        else b""
    )
    return b"".join(
        (
            head,
            extra,
            b"Content-Length: %d\r\n" % len(body),
            _CLOSE if close else b"",
            b"Date: ",
            http_date().encode(),
            b"\r\n\r\n",
            body,
        )
    )
