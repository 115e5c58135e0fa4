"""A chunk is one plain request only when its bytes leave no doubt: one HTTP/1.1 request,
framed by one Content-Length, whole, with nothing after it."""

from __future__ import annotations

import pytest

from gateway.ingress.framing import parse_plain, plain_request

BODY = b'{"id": 1}'


def request(
    *fields: bytes, body: bytes = BODY, line: bytes = b"POST /webhooks/v1/shop?x=1 HTTP/1.1"
) -> bytes:
    head = b"\r\n".join((line, b"Host: gateway", *fields))
    return head + b"\r\n\r\n" + body


LENGTH = b"Content-Length: %d" % len(BODY)


def test_a_whole_request_gives_its_method_and_target() -> None:
    assert plain_request(request(LENGTH)) == (b"POST", b"/webhooks/v1/shop?x=1")


def test_a_request_without_a_body_is_plain_with_a_length_of_zero() -> None:
    assert plain_request(request(b"content-length: 0", body=b"")) == (
        b"POST",
        b"/webhooks/v1/shop?x=1",
    )


@pytest.mark.parametrize(
    "value", [b"keep-alive", b"Keep-Alive", b"  keep-alive "], ids=["lower", "mixed", "padded"]
)
def test_a_request_asking_for_keep_alive_is_plain(value: bytes) -> None:
    assert plain_request(request(b"Connection:" + value, LENGTH)) is not None


NOT_PLAIN = {
    "half a head": request(LENGTH)[:30],
    "a head without its body": request(LENGTH)[: -len(BODY)],
    "part of the body": request(LENGTH)[:-1],
    "a second request after it": request(LENGTH) + request(LENGTH),
    "the start of a second request": request(LENGTH) + b"POST /",
    "no length": request(),
    "two lengths": request(LENGTH, LENGTH),
    "a length that is not a number": request(b"Content-Length: 9x"),
    "a signed length": request(b"Content-Length: +9"),
    "a chunked body": request(
        b"Transfer-Encoding: chunked", body=b"9\r\n" + BODY + b"\r\n0\r\n\r\n"
    ),
    "a length and chunks": request(LENGTH, b"Transfer-Encoding: chunked"),
    "100-continue": request(LENGTH, b"Expect: 100-continue"),
    "a connection to close": request(LENGTH, b"Connection: close"),
    "two connection fields": request(LENGTH, b"Connection: keep-alive", b"Connection: close"),
    "an upgrade": request(LENGTH, b"Upgrade: websocket"),
    "HTTP/1.0": request(LENGTH, line=b"POST /webhooks/v1/shop HTTP/1.0"),
    "no version": request(LENGTH, line=b"POST /webhooks/v1/shop"),
    "a space too many in the request line": request(LENGTH, line=b"POST  /x HTTP/1.1"),
}


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_else_is_not_plain(data: bytes) -> None:
    assert plain_request(data) is None


def test_a_plain_request_is_parsed_into_its_method_target_headers_and_body() -> None:
    parsed = parse_plain(
        b"POST /webhooks/v1/shop?x=1 HTTP/1.1\r\nHost: g\r\nX-Shopify-Topic:  orders/create \r\n"
        b"x-two: a\r\nX-Two: b\r\nContent-Length: 2\r\n\r\n{}"
    )

    assert parsed is not None
    assert (parsed.method, parsed.target, parsed.body) == (b"POST", b"/webhooks/v1/shop?x=1", b"{}")
    assert parsed.headers["x-shopify-topic"] == "orders/create"
    assert parsed.headers.getall("X-Two") == ["a", "b"]
    assert parsed.headers["Content-Length"] == "2"


NOT_PARSED = {
    "a folded header line": b"Host: g\r\n x\r\n",
    "a name with a space": b"X Bad: 1\r\n",
    "a space before the colon": b"X-Bad : 1\r\n",
    "no colon": b"X-Bad\r\n",
    "a control character": b"X-Bad: a\x01b\r\n",
    "a byte that is not ASCII": b"X-Bad: caf\xc3\xa9\r\n",
    "a line over 8190 bytes": b"X-Long: " + b"a" * 8190 + b"\r\n",
    "more than 128 fields": b"X-Many: 1\r\n" * 129,
}


@pytest.mark.parametrize("fields", NOT_PARSED.values(), ids=NOT_PARSED.keys())
def test_a_head_that_is_not_the_plainest_form_is_left_to_aiohttp(fields: bytes) -> None:
    data = b"POST /webhooks/v1/shop HTTP/1.1\r\n" + fields + b"Content-Length: 2\r\n\r\n{}"

    assert parse_plain(data) is None


def test_a_target_that_is_not_a_path_is_left_to_aiohttp() -> None:
    data = b"POST http://g/webhooks/v1/shop HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"

    assert plain_request(data) is not None
    assert parse_plain(data) is None
