"""Bytes are a plain webhook only when aiohttp would read them as exactly that one request,
the same way, and keep the connection open: one HTTP/1.1 POST, framed by one
Content-Length, whole, with nothing after it. Everything else is aiohttp's to read, and
much of it aiohttp answers 400 and closes the connection."""

from __future__ import annotations

import aiohttp.http_parser
import pytest

from chaos.framing import disagreement, read
from gateway.ingress.framing import MAX_FIELDS, MAX_LINE, plain_webhook

BODY = b'{"id": 1}'


def request(
    *fields: bytes,
    body: bytes = BODY,
    line: bytes = b"POST /webhooks/v1/shop?x=1 HTTP/1.1",
    host: bytes = b"Host: gateway",
    length: bytes | None = None,
) -> bytes:
    """A webhook: ``line``, ``host``, ``fields``, a Content-Length (``length``, else that
    of ``body``; ``b""`` for none), then ``body``."""
    length = b"Content-Length: %d" % len(body) if length is None else length
    lines = [line, host, *fields, length]
    return b"\r\n".join(part for part in lines if part) + b"\r\n\r\n" + body


def test_a_plain_webhook_gives_its_path_source_headers_and_body() -> None:
    plain = plain_webhook(
        b"POST /webhooks/v1/shop?x=1 HTTP/1.1\r\nHost: g\r\nX-Shopify-Topic:  orders/create \r\n"
        b"x-two: a\r\nX-Two:b\r\nContent-Length: 2\r\n\r\n{}"
    )

    assert plain is not None
    assert (plain.path, plain.source, plain.body) == ("/webhooks/v1/shop", "shop", b"{}")
    headers = plain.headers()
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers.getall("X-Two") == ["a", "b"]
    assert headers["Content-Length"] == "2"


TAKEN = {
    "a query": request(),
    "no query": request(line=b"POST /webhooks/v1/shop HTTP/1.1"),
    "no body": request(body=b""),
    "names in lower case": request(host=b"host: g", length=b"content-length: %d" % len(BODY)),
    "keep-alive": request(b"Connection: keep-alive"),
    "Keep-Alive, padded": request(b"Connection:  Keep-Alive "),
    "proxy keep-alive": request(b"Proxy-Connection: keep-alive"),
    "a value with a tab": request(b"X-Tab: a\tb"),
    "an empty value": request(b"X-Empty:"),
    "a field repeated that may be": request(b"X-Event-Id: a", b"X-Event-Id: b"),
    "printable bytes in the query": request(
        line=b'POST /webhooks/v1/shop?a=<>"{}|\\^`%00 HTTP/1.1'
    ),
    "a body that looks like a head": request(body=b"\r\n\r\nPOST / HTTP/1.1\r\n\r\n"),
    f"{MAX_FIELDS} fields": request(*[b"X-%d: 1" % i for i in range(MAX_FIELDS - 2)]),
    f"a field line of {MAX_LINE} bytes": request(b"X-Long: " + b"a" * (MAX_LINE - 8)),
}


@pytest.mark.parametrize("data", TAKEN.values(), ids=TAKEN.keys())
def test_a_plain_webhook_is_taken_and_aiohttp_reads_it_the_same_way(data: bytes) -> None:
    assert plain_webhook(data) is not None
    assert disagreement(data) is None


# What aiohttp answers 400 (and closes), or answers and then closes: the fast path and
# the overload refusal once took each of these and kept the connection open.
REFUSED_OR_CLOSED = {
    "no Host": request(host=b""),
    "two Hosts": request(b"Host: other"),
    "a NUL in the query": request(line=b"POST /webhooks/v1/shop?x=\x00 HTTP/1.1"),
    "a TAB in the query": request(line=b"POST /webhooks/v1/shop?x=\t HTTP/1.1"),
    "a \\x01 in the query": request(line=b"POST /webhooks/v1/shop?x=\x01 HTTP/1.1"),
    "a DEL in the query": request(line=b"POST /webhooks/v1/shop?x=\x7f HTTP/1.1"),
    "a bare CR in the query": request(line=b"POST /webhooks/v1/shop?x=\ry HTTP/1.1"),
    "a NUL in the path": request(line=b"POST /webhooks/v1/sh\x00op HTTP/1.1"),
    "Proxy-Connection: close": request(b"Proxy-Connection: close"),
    "Connection: close": request(b"Connection: close"),
    "Connection: keep-alive, close": request(b"Connection: keep-alive, close"),
    "a space before a colon (TE)": request(b"Transfer-Encoding : chunked"),
    "a folded TE line": request(b"X-A: 1\r\n Transfer-Encoding: chunked"),
    "a folded value": request(b"X-A: 1\r\n 2"),
    "a bare LF before TE": request(b"X-A: 1\nTransfer-Encoding: chunked"),
    "a bare LF line end": request(b"X-A: 1\nX-B: 2"),
    "a bare CR in a value": request(b"X-A: 1\r2"),
    "a NUL in a name": request(b"X-\x00A: 1"),
    "a space in a name": request(b"X A: 1"),
    "a NUL in a value": request(b"X-A: a\x00b"),
    "a DEL in a value": request(b"X-A: a\x7fb"),
    "a length with a sign": request(length=b"Content-Length: +%d" % len(BODY)),
    "a length of 5000 digits": request(length=b"Content-Length: " + b"9" * 5000),
    "two different lengths": request(b"Content-Length: 3"),
    "TE and a length": request(b"Transfer-Encoding: chunked"),
    "Sec-WebSocket-Key1": request(b"Sec-WebSocket-Key1: x"),
    f"{MAX_FIELDS + 2} fields": request(*[b"X-%d: 1" % i for i in range(MAX_FIELDS)]),
    "a field line over the limit": request(b"X-Long: " + b"a" * 8200),
    "a target over the limit": request(
        line=b"POST /webhooks/v1/shop?" + b"q" * 8190 + b" HTTP/1.1"
    ),
}


@pytest.mark.parametrize("data", REFUSED_OR_CLOSED.values(), ids=REFUSED_OR_CLOSED.keys())
def test_what_aiohttp_refuses_or_closes_on_is_not_plain(data: bytes) -> None:
    by_aiohttp = [read(data, parser) for parser in ("llhttp", "python")]

    assert any(r.error or not all(m.keeps_open for m in r.messages) for r in by_aiohttp)
    assert plain_webhook(data) is None


@pytest.mark.parametrize("name", sorted(aiohttp.http_parser.SINGLETON_HEADERS))
def test_a_field_aiohttp_takes_once_given_twice_is_not_plain(name: str) -> None:
    data = request(b"%s: a" % name.encode(), b"%s: a" % name.title().encode())

    assert read(data, "llhttp").error is not None  # the list is the running parser's
    assert plain_webhook(data) is None


NOT_PLAIN = {
    "half a head": request()[:30],
    "a head without its body": request()[: -len(BODY)],
    "part of the body": request()[:-1],
    "a second request after it": request() + request(),
    "the start of a second request": request() + b"POST /",
    "a CRLF after it": request() + b"\r\n",
    "no length": request(length=b""),
    "a length that is not a number": request(length=b"Content-Length: 9x"),
    "a length with a leading zero": request(length=b"Content-Length: 0%d" % len(BODY)),
    "a chunked body": request(
        b"Transfer-Encoding: chunked", length=b"", body=b"9\r\n" + BODY + b"\r\n0\r\n\r\n"
    ),
    "100-continue": request(b"Expect: 100-continue"),
    "two connection fields": request(b"Connection: keep-alive", b"Connection: keep-alive"),
    "an upgrade": request(b"Connection: upgrade", b"Upgrade: websocket"),
    "HTTP/1.0": request(line=b"POST /webhooks/v1/shop HTTP/1.0"),
    "no version": request(line=b"POST /webhooks/v1/shop"),
    "a space too many in the request line": request(line=b"POST  /webhooks/v1/shop HTTP/1.1"),
    "another method": request(line=b"PUT /webhooks/v1/shop HTTP/1.1"),
    "an absolute target": request(line=b"POST http://g/webhooks/v1/shop HTTP/1.1"),
    "a percent-encoded source": request(line=b"POST /webhooks/v1/sh%6Fp HTTP/1.1"),
    "a dot segment": request(line=b"POST /webhooks/v1/.. HTTP/1.1"),
    "a source that is not a source name": request(line=b"POST /webhooks/v1/Shop HTTP/1.1"),
    "a fragment": request(line=b"POST /webhooks/v1/shop#x HTTP/1.1"),
    "a byte that is not ASCII": request(b"X-Name: caf\xc3\xa9"),
    "a compressed body": request(b"Content-Encoding: gzip"),
    "no colon": request(b"X-Bad"),
}


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_else_is_left_to_aiohttp(data: bytes) -> None:
    assert plain_webhook(data) is None
