"""Whether a chunk of bytes is exactly one plain webhook, judged without a parser.

The fast path (ingress/fastpath.py) and the overload refusal (ingress/shedding.py) answer
a request from its bytes only when :func:`plain_webhook` takes them; anything else goes to
aiohttp's parser, which answers a malformed request 400 and closes the connection. So the
judgement is strict: it takes bytes only when both of aiohttp's parsers (llhttp's, which
the gateway runs, and the pure-Python one) would read exactly this one request from them,
the same way, and keep the connection open after answering it:

- ``POST /webhooks/v1/{source} HTTP/1.1``, the target printable ASCII (no control byte,
  query included), the source a source name (no ``%``, ``.`` or ``/`` to decode);
- every field ``name: value`` on one line ending CRLF: a token for a name, no space
  before the colon, a value of printable ASCII and tabs (no obs-fold, bare CR or LF);
- exactly one ``Host``, no field aiohttp takes once (``SINGLETON_HEADERS``) given twice,
  no ``Transfer-Encoding``, ``Content-Encoding`` (aiohttp would decode the body),
  ``Expect``, ``Upgrade`` or ``Sec-WebSocket-Key1``, at most one ``Connection`` and one
  ``Proxy-Connection``, each ``keep-alive``;
- one ``Content-Length`` in plain digits (no sign, no leading zero), and exactly that
  many bytes of body after the head, nothing more;
- within aiohttp's bounds: lines of at most 8190 bytes, at most 126 fields.

Anything else, however harmless, is aiohttp's to read.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import SLUG
from gateway.http.internals import SINGLETON_HEADERS

__all__ = ["PlainWebhook", "plain_webhook"]

_WEBHOOKS = "/webhooks/v1/"
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# The request line, then each field line with its CRLF: one pass over the head.
_HEAD = re.compile(rb"POST (/[\x21-\x7e]*) HTTP/1\.1\r\n(?:%s:[\t\x20-\x7e]*\r\n)*" % _TOKEN)

# aiohttp's bounds (both parsers): a line of the head (llhttp counts the target, the
# Python parser the whole line), and fields (the Python parser counts the request line
# and the blank line that ends the head against its 128).
MAX_LINE: Final = 8190
MAX_FIELDS: Final = 126

_KEEP_ALIVE_ONLY = ("connection", "proxy-connection")
# Another framing, a body aiohttp decodes, an interim answer, a protocol switch, or a
# field aiohttp refuses.
_NOT_PLAIN = frozenset(
    name.lower()
    for name in (
        hdrs.TRANSFER_ENCODING,
        hdrs.CONTENT_ENCODING,
        hdrs.EXPECT,
        hdrs.UPGRADE,
        hdrs.SEC_WEBSOCKET_KEY1,
    )
)
# Every field the judgement reads, each to be given once at most: aiohttp's singletons
# (a second one is its 400), the connection's options, what makes a request not plain.
_READ = sorted(SINGLETON_HEADERS | _NOT_PLAIN | set(_KEEP_ALIVE_ONLY))
_SPECIAL = re.compile(r"\r\n(" + "|".join(map(re.escape, _READ)) + r"):[ \t]*([^\r]*)")


class PlainWebhook(NamedTuple):
    """A plain webhook: its path, source and body, and its head as sent."""

    path: str  # ``/webhooks/v1/{source}``, the query left off
    source: str
    head: str  # the request line and the field lines, without the blank line
    body: bytes

    def headers(self) -> CIMultiDictProxy[str]:
        """The fields, as aiohttp gives them (each value without its blanks around)."""
        fields = (line.partition(":") for line in self.head.split("\r\n")[1:])
        return CIMultiDictProxy(CIMultiDict([(n, v.strip(" \t")) for n, _, v in fields]))


def plain_webhook(data: bytes) -> PlainWebhook | None:
    """The webhook ``data`` is, when it is all of one plain webhook request (see the
    module docstring); ``None`` for anything else, which aiohttp then parses."""
    end = data.find(b"\r\n\r\n")
    matched = None if end < 0 else _HEAD.fullmatch(data, 0, end + 2)
    if matched is None:
        return None
    head = data[:end].decode("ascii")  # ASCII: the pattern says so
    if head.count("\r\n") > MAX_FIELDS or (
        end > MAX_LINE and max(map(len, head.split("\r\n"))) > MAX_LINE
    ):
        return None
    path = matched[1].partition(b"?")[0].decode("ascii")
    source = path[len(_WEBHOOKS) :]
    if not path.startswith(_WEBHOOKS) or SLUG.match(source) is None:
        return None
    body = data[end + 4 :]
    if not _plain_fields(_SPECIAL.findall(head.lower()), len(body)):
        return None
    return PlainWebhook(path, source, head, body)


def _plain_fields(found: list[tuple[str, str]], length: int) -> bool:
    """Whether the fields the judgement reads (``found``: lower-case name and value, in
    order) frame a body of ``length`` bytes as aiohttp would and keep the connection."""
    special = dict(found)
    if len(special) < len(found) or "host" not in special or not _NOT_PLAIN.isdisjoint(special):
        return False
    if special.get("content-length", "").rstrip(" \t") != str(length):  # no sign, no 0 first
        return False
    return all(special.get(n, "keep-alive").rstrip(" \t") == "keep-alive" for n in _KEEP_ALIVE_ONLY)
