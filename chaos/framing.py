"""Requests near the edge of plain, generated; aiohttp's parsers say what each one is.

The ingress answers a request from its bytes only when ``plain_webhook``
(gateway/ingress/framing.py) takes them, so that judgement must take nothing aiohttp
would read another way. :func:`requests` generates bytes (hypothesis) by mutating a
valid webhook around the shapes that matter to a second parser: Content-Length and
Transfer-Encoding combined and misspelled, obs-fold, bare LF and CR, NUL and control
bytes in the target, the names and the values, sizes at aiohttp's limits, other targets
and versions, ``Expect``, pipelined requests with short and long bodies, no ``Host`` or
two, repeated fields, ``Connection`` and ``Proxy-Connection``. :func:`disagreement`
holds the judgement to both of aiohttp's parsers (llhttp's and the pure-Python one).

``make test`` runs the property a few hundred times (tests/unit/test_framing_property.py),
``make chaos`` at least 10,000 times (the ``framing`` scenario).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import SINGLETON_HEADERS, HttpRequestParserPy
from hypothesis import strategies as st

from gateway.ingress.framing import plain_webhook

try:  # the parser the gateway runs; aiohttp ships it compiled for every platform we use
    from aiohttp.http_parser import HttpRequestParserC
except ImportError:  # pragma: no cover - AIOHTTP_NO_EXTENSIONS
    HttpRequestParserC = None

__all__ = ["PARSERS", "Reading", "disagreement", "read", "requests"]

PARSERS: dict[str, Any] = {"python": HttpRequestParserPy}
if HttpRequestParserC is not None:
    PARSERS["llhttp"] = HttpRequestParserC

# Read after the bytes under test: parsed whole, it shows the parser held nothing back.
_SENTINEL = b"GET /sentinel HTTP/1.1\r\nHost: sentinel\r\n\r\n"
_loop = asyncio.new_event_loop()  # never run: the parsers only need one to exist
_loop.close()


@dataclasses.dataclass(frozen=True)
class Message:
    method: str
    path: str  # the target as sent
    url_path: str  # the path aiohttp routes on (decoded, normalised)
    headers: tuple[tuple[str, str], ...]  # names in lower case (llhttp spells known ones)
    body: bytes
    complete: bool  # the whole body is in hand
    keeps_open: bool
    plain_framing: bool  # neither chunked nor an upgrade


@dataclasses.dataclass(frozen=True)
class Reading:
    """What one of aiohttp's parsers made of some bytes."""

    messages: tuple[Message, ...]
    error: str | None  # the exception that is aiohttp's 400
    held_nothing: bool  # the sentinel request after the bytes parsed as itself


def read(data: bytes, parser: str = "llhttp") -> Reading:
    """``data`` fed to aiohttp's request parser, as the ingress runs it (its limits)."""
    reader = PARSERS[parser](BaseProtocol(_loop), _loop, 2**16)
    messages: list[Message] = []
    try:
        for message, payload in reader.feed_data(data)[0]:
            complete = payload.is_eof()
            body = payload.read_nowait(-1)
            messages.append(
                Message(
                    message.method,
                    message.path,
                    message.url.path,
                    _fields(message.headers.items()),
                    body,
                    complete,
                    not message.should_close,
                    not (message.chunked or message.upgrade),
                )
            )
    except (HttpProcessingError, ValueError) as exc:  # ValueError: the Python parser's
        return Reading(tuple(messages), type(exc).__name__, False)  # on 5000 digits
    try:
        after = reader.feed_data(_SENTINEL)[0]
    except HttpProcessingError:
        return Reading(tuple(messages), None, False)
    held_nothing = len(after) == 1 and after[0][0].path == "/sentinel"
    return Reading(tuple(messages), None, held_nothing)


def _fields(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name.lower(), value) for name, value in items)


def disagreement(data: bytes) -> str | None:
    """How ``plain_webhook`` reads ``data`` otherwise than aiohttp would, or ``None``.

    When the judgement takes the bytes, each of aiohttp's parsers must read them as
    exactly that one request, whole, with nothing after it: the same target, path,
    fields and body, no other framing, and the connection kept open."""
    plain = plain_webhook(data)
    if plain is None:
        return None
    for name in PARSERS:
        reading = read(data, name)
        if reading.error is not None:
            return f"{name} refuses it ({reading.error})"
        if len(reading.messages) != 1 or not reading.held_nothing:
            return f"{name} reads {len(reading.messages)} requests and holds more: {reading}"
        message = reading.messages[0]
        target = plain.head.split("\r\n", 1)[0].split(" ")[1]
        fields = _fields(plain.headers().items())
        seen = Message("POST", target, plain.path, fields, plain.body, True, True, True)
        if message != seen:
            return f"{name} reads {message}, the judgement {seen}"
    return None


# ---- the generator -------------------------------------------------------------------

_CONTROL = [b"\x00", b"\t", b"\x01", b"\x7f", b"\r", b"\n", b"\x1b", b"\x0b", b"\x0c"]
_ODD = [b" ", b"\x80", b"\xff", b"\xc3\xa9", b"%00", b"%", b"#", b"?", b"/", b"\\", b'"', b":"]
_PRINTABLE = [bytes([c]) for c in range(0x21, 0x7F)]
_NAMES = [
    *sorted(SINGLETON_HEADERS),
    "transfer-encoding",
    "Transfer-Encoding",
    "TRANSFER-ENCODING",
    "Connection",
    "Proxy-Connection",
    "Expect",
    "Upgrade",
    "Sec-WebSocket-Key1",
    "Content-Encoding",
    "Keep-Alive",
    "TE",
    "Trailer",
    "X-Event-Id",
]
_VALUES = [
    "chunked",
    " chunked",
    "chunked ",
    "CHUNKED",
    "chunked, identity",
    "identity",
    "gzip, chunked",
    "xchunked",
    "close",
    "Close",
    "keep-alive",
    "Keep-Alive",
    "keep-alive, close",
    "upgrade",
    "te",
    "100-continue",
    "websocket",
    "h2c",
    "gzip",
    "0",
    "",
    "1",
]
_LENGTHS = [
    "{n}",
    "0{n}",
    "+{n}",
    "-{n}",
    " {n} ",
    "{n},{n}",
    "{n}, {n}",
    "{m}",
    "{k}",
    "0x{n:x}",
    "{n}.0",
    "1" * 20,
    "9" * 5000,
    "",
    "{n} {n}",
]
_VERSIONS = [
    b"HTTP/1.0",
    b"HTTP/1.2",
    b"HTTP/2.0",
    b"HTTP/0.9",
    b"http/1.1",
    b"HTTP/1.1 ",
    b"HTTP/11",
    b"HTTP/1.01",
    b"HTTP/1",
    b"",
]
_METHODS = [b"post", b"PUT", b"GET", b"POST ", b"P\x00ST", b"CONNECT"]
_EOLS = [b"\n", b"\r", b"\r\r\n", b"\n\r", b"\r\n "]


Field = tuple[bytes, bytes, bytes]

_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHARS = "".join(map(chr, range(0x20, 0x7F))) + "\t"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A webhook request, valid or mutated around the shapes a second parser gets wrong,
    perhaps followed by more bytes (another request, part of one, garbage)."""
    source = draw(st.sampled_from([b"open", b"shop", b"a", b"x" * 63]))
    target = b"/webhooks/v1/" + source
    if draw(st.booleans()):
        target += b"?" + b"".join(draw(st.lists(st.sampled_from(_PRINTABLE), max_size=12)))
    body = draw(
        st.one_of(
            st.sampled_from([b'{"id": 1}', b"", b"x" * 300, b"\r\n\r\n", b"0\r\n\r\n"]),
            st.binary(max_size=64),
        )
    )
    fields = draw(_valid_fields(len(body)))
    method, version, blank, tail = b"POST", b"HTTP/1.1", b"\r\n", b""
    ends: dict[int, bytes] = {}
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        kind = draw(st.integers(0, 8))
        if kind in (0, 1):
            fields = draw(_mutated_fields(fields))
        elif kind == 2:
            method = draw(st.sampled_from(_METHODS))
        elif kind == 3:
            version = draw(st.sampled_from(_VERSIONS))
        elif kind == 4:
            target = draw(_odd_target(target))
        elif kind == 5:  # a line, or the head, ends otherwise
            ends[draw(st.integers(0, len(fields)))] = draw(st.sampled_from(_EOLS))
            blank = draw(st.sampled_from(_EOLS))
        elif kind == 6:
            tail = draw(_tail())
        elif kind == 7:
            fields = draw(_other_length(fields, len(body)))
    lines = [b"%s %s %s" % (method, target, version)]
    lines += [name + sep + value for name, sep, value in fields]
    head = b"".join(line + ends.get(i, b"\r\n") for i, line in enumerate(lines))
    data = head + blank + body + tail
    if draw(st.integers(0, 9)) == 0:
        data = draw(_byte_mutation(data))
    return data


@st.composite
def _valid_fields(draw: st.DrawFn, length: int) -> list[Field]:
    """The fields of a valid webhook: the usual ones, a few of anything, in any order."""
    fields: list[Field] = [
        (draw(st.sampled_from([b"Host", b"host", b"HOST"])), b": ", b"gateway.example"),
        (b"Content-Type", b": ", b"application/json"),
        (b"X-Event-Id", b": ", b"e-%d" % draw(st.integers(0, 9999))),
        (b"User-Agent", b": ", b"sender/1.0"),
        (draw(st.sampled_from([b"Content-Length", b"content-length"])), b": ", b"%d" % length),
    ]
    if draw(st.booleans()):
        keep = draw(st.sampled_from([b"keep-alive", b"Keep-Alive", b" keep-alive "]))
        fields.append((draw(st.sampled_from([b"Connection", b"Proxy-Connection"])), b":", keep))
    for _ in range(draw(st.integers(0, 4))):
        name = "X-" + draw(st.text(_TCHARS, min_size=1, max_size=16))
        value = draw(st.text(_VCHARS, max_size=40))
        fields.append((name.encode(), draw(st.sampled_from([b": ", b":"])), value.encode()))
    return list(draw(st.permutations(fields)))


@st.composite
def _other_length(draw: st.DrawFn, fields: list[Field], n: int) -> list[Field]:
    """``fields`` with the value of each Content-Length written another way."""
    form = draw(st.sampled_from(_LENGTHS))
    value = form.format(n=n, m=n + 1, k=max(n - 1, 0)).encode()
    return [
        (name, sep, value if name.lower() == b"content-length" else v) for name, sep, v in fields
    ]


@st.composite
def _odd_target(draw: st.DrawFn, target: bytes) -> bytes:
    """``target`` another way: another form, a byte in its path or query, or long."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(
            st.sampled_from(
                [
                    b"/webhooks/v1/op%65n",
                    b"/webhooks/v1/open/",
                    b"//webhooks/v1/open",
                    b"/webhooks/v1/./open",
                    b"/webhooks/v1/x/../open",
                    b"/webhooks/v1/.",
                    b"/webhooks/v1/..",
                    b"/webhooks/v1/Open",
                    b"/webhooks/v1/" + b"x" * 64,
                    b"http://gateway/webhooks/v1/open",
                    b"*",
                    b"/webhooks/v1/",
                    b"/webhooks/v2/open",
                    b"/healthz",
                ]
            )
        )
    at = draw(st.integers(1, len(target)))
    if kind == 1:  # a byte anywhere in it, the query included
        return target[:at] + draw(st.sampled_from(_CONTROL + _ODD)) + target[at:]
    if kind == 2:  # a query with such a byte
        return target + b"?a=" + draw(st.sampled_from(_CONTROL + _ODD)) + b"b"
    size = draw(st.integers(8170, 8200))  # around aiohttp's limit of 8190
    return target + (b"&" if b"?" in target else b"?") + b"q" * max(size - len(target) - 1, 0)


@st.composite
def _mutated_fields(draw: st.DrawFn, fields: list[Field]) -> list[Field]:
    """``fields`` with one mutation: a field added, repeated, dropped or misspelt."""
    fields = list(fields)
    at = draw(st.integers(0, len(fields) - 1)) if fields else 0
    kind = draw(st.integers(0, 11))
    if kind == 0 and fields:  # drop one (Host, Content-Length, …)
        del fields[at]
    elif kind == 1 and fields:  # repeat one, same value or another
        name, sep, value = fields[at]
        other = value if draw(st.booleans()) else value + b"2"
        fields.insert(draw(st.integers(0, len(fields))), (name, sep, other))
    elif kind in (2, 3):  # a field the judgement reads, spelt and valued any way
        name = draw(st.sampled_from(_NAMES)).encode()
        value = draw(st.sampled_from(_VALUES)).encode()
        fields.insert(draw(st.integers(0, len(fields))), (name, b": ", value))
    elif kind == 4 and fields:  # another separator
        name, _, value = fields[at]
        sep = draw(st.sampled_from([b":", b" :", b"\t:", b":\t", b" : ", b"::", b": \x00"]))
        fields[at] = (name, sep, value)
    elif kind == 5 and fields:  # a byte in a name
        name, sep, value = fields[at]
        i = draw(st.integers(0, len(name)))
        bad = draw(st.sampled_from(_CONTROL + _ODD + [b"(", b"@", b"{"]))
        fields[at] = (name[:i] + bad + name[i:], sep, value)
    elif kind == 6 and fields:  # a byte in a value
        name, sep, value = fields[at]
        i = draw(st.integers(0, len(value)))
        bad = draw(st.sampled_from(_CONTROL + _ODD))
        fields[at] = (name, sep, value[:i] + bad + value[i:])
    elif kind == 7 and fields:  # obs-fold: the value goes on on the next line
        name, sep, value = fields[at]
        fold = draw(st.sampled_from([b"\r\n ", b"\r\n\t", b"\n ", b"\r\n  "]))
        fields[at] = (name, sep, value + fold + b"more")
    elif kind == 8:  # many fields, around aiohttp's limit
        total = draw(st.integers(120, 130))
        pad = [(b"X-Pad-%d" % i, b": ", b"1") for i in range(max(total - len(fields), 0))]
        fields = fields + pad
    elif kind == 9:  # a long field line, around aiohttp's limit
        size = draw(st.integers(8180, 8200))
        fields.insert(at, (b"X-Long", b": ", b"v" * (size - len(b"X-Long: "))))
    elif kind == 10 and fields:  # blanks around a value
        name, sep, value = fields[at]
        pad = draw(st.sampled_from([b" ", b"\t", b"  ", b" \t"]))
        fields[at] = (name, sep, pad + value + pad)
    elif kind == 11:  # a field with an empty name or no colon
        fields.insert(at, draw(st.sampled_from([(b"", b": ", b"x"), (b"X-None", b"", b"")])))
    return fields


@st.composite
def _tail(draw: st.DrawFn) -> bytes:
    """What follows the body on the connection, if anything."""
    kind = draw(st.integers(0, 9))
    second = (
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: g\r\nX-Event-Id: e-2\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    if kind == 0:
        return second  # a second whole request, pipelined
    if kind == 1:
        return second[: draw(st.integers(1, len(second) - 1))]  # the start of one
    if kind == 2:
        return draw(st.sampled_from([b"\r\n", b"\n", b"x", b"\x00", b"0\r\n\r\n"]))
    return b""


@st.composite
def _byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """One byte inserted, removed or replaced anywhere."""
    at = draw(st.integers(0, len(data) - 1))
    byte = draw(st.sampled_from(_CONTROL + _ODD + _PRINTABLE))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return data[:at] + byte + data[at:]
    if kind == 1:
        return data[:at] + data[at + 1 :]
    return data[:at] + byte + data[at + 1 :]
