"""Byte sequences around the edge of a plain webhook, each written on a new connection.

A case is one or more chunks (written with a pause between them). ``ID`` stands for a
request's event id: each is replaced, in order, by an id of the same width naming the
run, the case and the request, so what was stored can be traced back (the width keeps
every length as written). The cases go for where a second parser goes wrong: framing
(Content-Length and Transfer-Encoding, combined and misspelt), obs-fold, bare LF and
CR, NUL and control bytes, sizes at aiohttp's limits, targets, versions, ``Expect``,
pipelining with short and long bodies, ``Host``, repeated fields, ``Connection``.
"""

from __future__ import annotations

import dataclasses

from gateway.http.internals import SINGLETON_HEADERS
from gateway.ingress.framing import MAX_FIELDS, MAX_LINE

ID = b"@ID@@@@"  # as wide as an id: run letter, case number, request number
MAX_BODY = 4096  # [ingress] max_body_bytes of the gateways under test
BODY = b'{"id": 1}'


@dataclasses.dataclass(frozen=True)
class Case:
    category: str
    name: str
    chunks: tuple[bytes, ...]

    def bytes_for(self, run: str, number: int) -> tuple[bytes, ...]:
        """The chunks with each ``ID`` replaced by ``<run><number>-<n>``."""
        count = 0
        out = []
        for chunk in self.chunks:
            parts = chunk.split(ID)
            pieces = [parts[0]]
            for part in parts[1:]:
                pieces += [b"%s%03d-%02d" % (run.encode(), number, count), part]
                count += 1
            out.append(b"".join(pieces))
        return tuple(out)


def webhook(
    *fields: bytes,
    body: bytes = BODY,
    target: bytes = b"/webhooks/v1/open",
    version: bytes = b"HTTP/1.1",
    method: bytes = b"POST",
    host: bytes = b"Host: gateway",
    length: bytes | None = None,
    eol: bytes = b"\r\n",
    event: bytes = b"X-Event-Id: " + ID,
) -> bytes:
    """A webhook to the ``open`` source: its line, ``host``, an event id, ``fields``, a
    Content-Length (``length``, else the body's; ``b""`` for none), then ``body``."""
    length = b"Content-Length: %d" % len(body) if length is None else length
    lines = [b"%s %s %s" % (method, target, version), host, event, *fields, length]
    return b"".join(line + eol for line in lines if line) + eol + body


def chunked(*fields: bytes, body: bytes = b"9\r\n" + BODY + b"\r\n0\r\n\r\n") -> bytes:
    return webhook(b"Transfer-Encoding: chunked", *fields, body=body, length=b"")


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(category: str, name: str, *chunks: bytes) -> None:
        cases.append(Case(category, name, chunks))

    plain = "plain"
    add(plain, "a plain webhook", webhook())
    add(plain, "a query", webhook(target=b"/webhooks/v1/open?attempt=2&x=%20"))
    add(plain, "an empty query", webhook(target=b"/webhooks/v1/open?"))
    add(plain, "no body", webhook(body=b""))
    add(plain, "keep-alive", webhook(b"Connection: keep-alive"))
    add(plain, "Keep-Alive", webhook(b"Connection:  Keep-Alive "))
    add(plain, "names in lower case", webhook(host=b"host: g", length=b"content-length: 9"))
    add(plain, "a tab in a value", webhook(b"X-Tab: a\tb"))
    add(plain, "an empty value", webhook(b"X-Empty:"))
    add(plain, "twenty fields", webhook(*[b"X-F%d: %d" % (i, i) for i in range(20)]))
    add(plain, "one after another", webhook(), webhook())
    add(plain, "a body at the limit", webhook(body=b'"' + b"x" * (MAX_BODY - 2) + b'"'))
    add(plain, "a body over the limit", webhook(body=b'"' + b"x" * (MAX_BODY - 1) + b'"'))
    add(plain, "an unknown source", webhook(target=b"/webhooks/v1/nobody"))
    add(plain, "another content type", webhook(b"Content-Type: text/plain"))
    add(plain, "a body of CRLFs", webhook(body=b"\r\n\r\n\r\n"))
    add(plain, "a body that looks like a head", webhook(body=b"\r\n\r\nPOST / HTTP/1.1\r\n\r\n"))
    add(plain, "a field named like TE", webhook(b"Transfer_Encoding: chunked"))
    add(plain, "no event id", webhook(event=b""))
    add(plain, "a field with a long value", webhook(b"X-Long: " + b"v" * 4000))

    te = "CL/TE"
    add(te, "chunked", chunked())
    add(te, "chunked with an extension", chunked(body=b"9;x=y\r\n" + BODY + b"\r\n0\r\n\r\n"))
    add(te, "chunked, then a length", chunked(b"Content-Length: 9"))
    add(te, "a length, then chunked", webhook(b"Transfer-Encoding: chunked"))
    add(te, "CHUNKED and a length", webhook(b"Transfer-Encoding: CHUNKED"))
    add(te, "chunked padded and a length", webhook(b"Transfer-Encoding:  chunked "))
    add(te, "identity and a length", webhook(b"Transfer-Encoding: identity"))
    add(te, "gzip, chunked and a length", webhook(b"Transfer-Encoding: gzip, chunked"))
    add(te, "chunked, identity", chunked(b"Transfer-Encoding: identity"))
    add(te, "xchunked and a length", webhook(b"Transfer-Encoding: xchunked"))
    add(te, "chunked twice", chunked(b"Transfer-Encoding: chunked"))
    add(te, "TE with a space before the colon", webhook(b"Transfer-Encoding : chunked"))
    add(te, "TE with a tab before the colon", webhook(b"Transfer-Encoding\t: chunked"))
    add(te, "TE on a folded line", webhook(b"X-A: 1\r\n Transfer-Encoding: chunked"))
    add(te, "a folded TE value", webhook(b"Transfer-Encoding:\r\n chunked"))
    add(te, "TE after a bare LF", webhook(b"X-A: 1\nTransfer-Encoding: chunked"))
    add(te, "TE ending in a bare LF", webhook(b"Transfer-Encoding: chunked\nX-A: 1"))
    add(te, "a NUL in the TE name", webhook(b"Transfer-Enc\x00oding: chunked"))
    add(te, "a space in the TE name", webhook(b"Transfer Encoding: chunked"))
    add(te, "two equal lengths", webhook(b"Content-Length: 9"))
    add(te, "two lengths", webhook(b"Content-Length: 2"))
    add(te, "a length of +9", webhook(length=b"Content-Length: +9"))
    add(te, "a length of -9", webhook(length=b"Content-Length: -9"))
    add(te, "a length of 09", webhook(length=b"Content-Length: 09"))
    add(te, "a length padded", webhook(length=b"Content-Length:   9  "))
    add(te, "a length of 9,9", webhook(length=b"Content-Length: 9,9"))
    add(te, "a length of 9, 9", webhook(length=b"Content-Length: 9, 9"))
    add(te, "a length in hex", webhook(length=b"Content-Length: 0x9"))
    add(te, "a length of 9.0", webhook(length=b"Content-Length: 9.0"))
    add(te, "an empty length", webhook(length=b"Content-Length:"))
    add(te, "a length of 5000 digits", webhook(length=b"Content-Length: " + b"9" * 5000))
    add(te, "a length of 20 digits", webhook(length=b"Content-Length: " + b"1" * 20))
    add(te, "a space before the length's colon", webhook(length=b"Content-Length : 9"))
    add(te, "no length", webhook(length=b""))
    add(
        te,
        "a length short of the body",
        webhook(length=b"Content-Length: 2", body=b"{}" + webhook()),
    )
    add(te, "a length past the body", webhook(length=b"Content-Length: 20"))
    add(
        te,
        "TE.CL: chunked and a length that holds a request",
        webhook(
            b"Transfer-Encoding : chunked",
            length=b"Content-Length: %d" % len(b"0\r\n\r\n" + webhook()),
            body=b"0\r\n\r\n" + webhook(),
        ),
    )
    add(
        te,
        "CL.TE: a length and a chunked request after",
        webhook(length=b"Content-Length: 5", body=b"0\r\n\r\n" + chunked()),
    )

    fold = "obs-fold"
    add(fold, "a folded Host", webhook(host=b"Host: gate\r\n way"))
    add(fold, "a folded value", webhook(b"X-A: 1\r\n 2"))
    add(fold, "a folded value (tab)", webhook(b"X-A: 1\r\n\t2"))
    add(fold, "a folded content type", webhook(b"Content-Type: application/\r\n json"))
    add(fold, "a folded length", webhook(length=b"Content-Length:\r\n 9"))
    add(fold, "a first field folded", webhook(host=b" Host: gateway"))
    add(fold, "a blank folded line", webhook(b"X-A: 1\r\n \r\nX-B: 2"))

    ends = "bare LF/CR"
    add(ends, "every line ends LF", webhook(eol=b"\n"))
    add(ends, "the request line ends LF", webhook().replace(b"HTTP/1.1\r\n", b"HTTP/1.1\n", 1))
    add(ends, "a field line ends LF", webhook(b"X-A: 1\nX-B: 2"))
    add(ends, "the head ends LF LF", webhook().replace(b"9\r\n\r\n", b"9\n\n"))
    add(ends, "the head ends CRLF LF", webhook().replace(b"\r\n\r\n", b"\r\n\n"))
    add(ends, "a bare CR in a value", webhook(b"X-A: 1\r2"))
    add(ends, "a line ends CR CR LF", webhook(b"X-A: 1\r"))
    add(ends, "a line ends CR", webhook(b"X-A: 1\rX-B: 2"))
    add(ends, "a line ends LF CR", webhook(b"X-A: 1\n\rX-B: 2"))
    add(ends, "a CRLF before the request", b"\r\n" + webhook())

    ctl = "control bytes"
    for byte, shown in [
        (b"\x00", "NUL"),
        (b"\t", "TAB"),
        (b"\x01", "\\x01"),
        (b"\x7f", "DEL"),
        (b"\r", "a bare CR"),
        (b"\x1b", "ESC"),
        (b"\x0b", "VT"),
        (b"\xe9", "a byte over 127"),
    ]:
        add(ctl, f"{shown} in the query", webhook(target=b"/webhooks/v1/open?a=" + byte + b"b"))
    for byte, shown in [(b"\x00", "NUL"), (b"\t", "TAB"), (b"\x7f", "DEL"), (b"\x01", "\\x01")]:
        add(ctl, f"{shown} in the path", webhook(target=b"/webhooks/v1/op" + byte + b"en"))
    add(ctl, "NUL in the method", webhook(method=b"PO\x00ST"))
    for byte, shown in [
        (b"\x00", "NUL"),
        (b"\x01", "\\x01"),
        (b" ", "a space"),
        (b"\x7f", "DEL"),
        (b"(", "a parenthesis"),
        (b"@", "an at sign"),
        (b"\xe9", "a byte over 127"),
    ]:
        add(ctl, f"{shown} in a name", webhook(b"X-" + byte + b"A: 1"))
    for byte, shown in [
        (b"\x00", "NUL"),
        (b"\x01", "\\x01"),
        (b"\x7f", "DEL"),
        (b"\x1b", "ESC"),
        (b"\x0c", "FF"),
        (b"\xc3\xa9", "UTF-8"),
    ]:
        add(ctl, f"{shown} in a value", webhook(b"X-A: a" + byte + b"b"))

    size = "sizes"
    line = b"POST  HTTP/1.1"
    for total in (MAX_LINE - 1, MAX_LINE, MAX_LINE + 1):
        pad = b"q" * (total - len(line) - len(b"/webhooks/v1/open?"))
        add(size, f"a request line of {total}", webhook(target=b"/webhooks/v1/open?" + pad))
    for total in (MAX_LINE, MAX_LINE + 1, MAX_LINE + 3):
        pad = b"q" * (total - len(b"/webhooks/v1/open?"))
        add(size, f"a target of {total}", webhook(target=b"/webhooks/v1/open?" + pad))
    for total in (MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, MAX_LINE + 2):
        add(size, f"a field line of {total}", webhook(b"X-Long: " + b"v" * (total - 8)))
    add(size, "a field name of 8190", webhook(b"X" * MAX_LINE + b":"))
    for total in (MAX_FIELDS - 1, MAX_FIELDS, MAX_FIELDS + 1, MAX_FIELDS + 2, MAX_FIELDS + 3):
        pad = [b"X-%d: 1" % i for i in range(total - 3)]  # Host, the id and the length
        add(size, f"{total} fields", webhook(*pad))

    target = "targets"
    for path in [
        b"/webhooks/v1/open/",
        b"//webhooks/v1/open",
        b"/webhooks/v1/./open",
        b"/webhooks/v1/x/../open",
        b"/webhooks/v1/.",
        b"/webhooks/v1/..",
        b"/webhooks/v1/op%65n",
        b"/webhooks/v1/Open",
        b"http://gateway/webhooks/v1/open",
        b"*",
        b"/webhooks/v1/open#fragment",
        b"/webhooks/v1/open?a#b",
        b"/webhooks/v1/" + b"x" * 64,
        b"/webhooks/v1/open?a=%00",
        b"webhooks/v1/open",
    ]:
        add(target, path.decode("latin-1"), webhook(target=path))
    add(target, "GET /healthz", b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n")
    add(target, "PUT to a webhook", webhook(method=b"PUT"))
    add(target, "post in lower case", webhook(method=b"post"))

    version = "versions"
    for given in [
        b"HTTP/1.0",
        b"HTTP/1.2",
        b"HTTP/2.0",
        b"HTTP/0.9",
        b"http/1.1",
        b"HTTP/1.1 ",
        b"HTTP/1.1\t",
        b"HTTP/11",
        b"",
    ]:
        add(version, repr(given)[2:-1] or "no version", webhook(version=given))
    add(version, "HTTP/1.0 keep-alive", webhook(b"Connection: keep-alive", version=b"HTTP/1.0"))
    add(version, "HTTP/1.0 without Host", webhook(host=b"", version=b"HTTP/1.0"))

    expect = "Expect"
    add(expect, "100-continue, the body sent", webhook(b"Expect: 100-continue"))
    add(expect, "100-Continue", webhook(b"Expect: 100-Continue"))
    add(expect, "another expectation", webhook(b"Expect: something"))
    whole = webhook(b"Expect: 100-continue")
    add(expect, "100-continue, the body after", whole[: -len(BODY)], BODY)

    pipe = "pipelining"
    add(pipe, "two webhooks at once", webhook() + webhook())
    add(pipe, "three webhooks at once", webhook() + webhook() + webhook())
    add(pipe, "a webhook and half of one", webhook() + webhook()[:40])
    add(
        pipe,
        "a webhook and a health check",
        webhook() + b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n",
    )
    add(pipe, "an empty body, then a webhook", webhook(body=b"") + webhook())
    add(pipe, "a long body, then a webhook", webhook(body=b'"' + b"x" * 3000 + b'"') + webhook())
    add(pipe, "a webhook, then CRLF", webhook() + b"\r\n")
    add(pipe, "a webhook, then garbage", webhook() + b"x")
    add(pipe, "a webhook to close, then one", webhook(b"Connection: close") + webhook())
    add(pipe, "a webhook, then one without Host", webhook() + webhook(host=b""))
    add(pipe, "plain, then no Host", webhook(), webhook(host=b""))
    add(pipe, "plain, then two Hosts", webhook(), webhook(b"Host: other"))
    add(pipe, "plain, then TE with a space", webhook(), webhook(b"Transfer-Encoding : chunked"))
    add(
        pipe,
        "plain, then Proxy-Connection: close",
        webhook(),
        webhook(b"Proxy-Connection: close"),
        webhook(),
    )
    add(
        pipe, "plain, then a NUL in the query", webhook(), webhook(target=b"/webhooks/v1/open?\x00")
    )
    add(pipe, "a head, then its body", webhook()[: -len(BODY)], BODY)

    host = "Host"
    add(host, "no Host", webhook(host=b""))
    add(host, "two equal Hosts", webhook(b"Host: gateway"))
    add(host, "two Hosts", webhook(b"Host: other"))
    add(host, "an empty Host", webhook(host=b"Host:"))
    add(host, "a Host with a port", webhook(host=b"Host: gateway:8080"))
    add(host, "a space before the Host's colon", webhook(host=b"Host : gateway"))
    add(host, "a Host with a space", webhook(host=b"Host: a b"))
    add(host, "HOST", webhook(host=b"HOST: gateway"))

    repeated = "repeated fields"
    for name in sorted(SINGLETON_HEADERS):
        add(repeated, f"{name} twice", webhook(b"%s: a" % name.encode(), b"%s: b" % name.encode()))
    add(repeated, "the event id twice", webhook(b"X-Event-Id: " + ID))
    add(repeated, "Connection twice", webhook(b"Connection: keep-alive", b"Connection: keep-alive"))
    add(repeated, "Accept twice", webhook(b"Accept: a", b"Accept: b"))
    add(repeated, "Content-Type twice", webhook(b"Content-Type: a/b", b"Content-Type: a/b"))

    conn = "Connection"
    for value in [
        b"close",
        b"Close",
        b"keep-alive, close",
        b"close, keep-alive",
        b"upgrade",
        b"te",
        b"keep-alive, upgrade",
    ]:
        add(conn, f"Connection: {value.decode()}", webhook(b"Connection: " + value))
    add(conn, "an upgrade to websocket", webhook(b"Connection: upgrade", b"Upgrade: websocket"))
    add(conn, "an upgrade to h2c", webhook(b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c"))
    add(conn, "Upgrade alone", webhook(b"Upgrade: websocket"))
    add(conn, "Proxy-Connection: close", webhook(b"Proxy-Connection: close"))
    add(conn, "Proxy-Connection: keep-alive", webhook(b"Proxy-Connection: keep-alive"))
    add(conn, "Keep-Alive: timeout=5", webhook(b"Keep-Alive: timeout=5"))
    add(conn, "Sec-WebSocket-Key1", webhook(b"Sec-WebSocket-Key1: x"))
    add(conn, "Content-Encoding: gzip (not gzip)", webhook(b"Content-Encoding: gzip"))
    return cases


MATRIX: list[Case] = _cases()
CATEGORIES = sorted({case.category for case in MATRIX})
