"""Hostile ingest requests, as raw bytes: random and mutated, malformed and oversized.

Every case is a list of byte chunks written to a fresh connection, with how the client
behaves afterwards (pause between chunks, close its sending side early). Signed cases
carry a valid signature over a hostile body or hostile ids, so they get past the
signature check into id extraction and storage; the rest attack the HTTP layer.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import random
import time
import zlib
from collections.abc import Callable, Iterator

import orjson

from chaos.load import SHOP_SECRET
from testkit.senders import hmac_signature, shopify_signature, standard_webhooks_signature

JSON_SECRET = "chaos-json-secret-" + "j" * 24
STD_SECRET = "whsec_" + base64.b64encode(b"chaos-standard-webhooks-key-32by").decode()
MAX_BODY = 64 * 1024


def fuzz_sources() -> list[dict[str, object]]:
    """The sources of the fuzzed gateway: one per way of finding the event id."""
    return [
        {"name": "shop", "scheme": "shopify", "secret": SHOP_SECRET},
        {
            "name": "json",
            "scheme": "hmac",
            "secret": JSON_SECRET,
            "signature_header": "X-Signature",
            "event_id": "/id",
            "event_type": "/type",
            "ordering_key": "/order/id",
        },
        {"name": "std", "scheme": "standard-webhooks", "secret": STD_SECRET},
        {"name": "open", "scheme": "none", "event_id": "X-Event-Id"},
    ]


@dataclasses.dataclass
class Case:
    kind: str
    chunks: list[bytes]
    pause: float = 0.0  # between chunks
    half_close: bool = False  # shut the sending side after the last chunk

    @property
    def sample(self) -> bytes:
        return b"".join(self.chunks)[:400]


Header = tuple[bytes, bytes]


def http(
    method: bytes,
    path: bytes,
    headers: list[Header],
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    lines = [method + b" " + path + b" " + version]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _common(body: bytes, content_type: bytes = b"application/json") -> list[Header]:
    return [
        (b"Host", b"gateway"),
        (b"Content-Type", content_type),
        (b"Content-Length", str(len(body)).encode()),
        (b"Connection", b"close"),
    ]


def signed(rng: random.Random, source: str, body: bytes, event_id: bytes | None = None) -> bytes:
    """A correctly signed request for ``source`` (``event_id`` where the source reads it)."""
    event_id = event_id if event_id is not None else f"fz-{rng.getrandbits(48):x}".encode()
    headers = _common(body)
    if source == "shop":
        headers += [
            (b"X-Shopify-Hmac-Sha256", shopify_signature(SHOP_SECRET, body).encode()),
            (b"X-Shopify-Webhook-Id", event_id),
            (b"X-Shopify-Topic", b"orders/create"),
        ]
    elif source == "json":
        headers += [(b"X-Signature", hmac_signature(JSON_SECRET, body).encode())]
    elif source == "std":
        ts = str(int(time.time())).encode()
        signature = standard_webhooks_signature(STD_SECRET, event_id, ts, body)
        headers += [
            (b"webhook-id", event_id),
            (b"webhook-timestamp", ts),
            (b"webhook-signature", signature.encode()),
        ]
    else:
        headers += [(b"X-Event-Id", event_id)]
    return http(b"POST", b"/webhooks/v1/" + source.encode(), headers, body)


def _order(rng: random.Random) -> bytes:
    n = rng.getrandbits(32)
    return orjson.dumps({"id": f"ord-{n}", "type": "orders/create", "order": {"id": n % 97}})


def valid(rng: random.Random) -> Case:
    return Case("valid", [signed(rng, rng.choice(["shop", "json", "std", "open"]), _order(rng))])


def mutated(rng: random.Random) -> Case:
    """A valid request with a few random byte-level mutations."""
    data = bytearray(valid(rng).chunks[0])
    for _ in range(rng.randint(1, 6)):
        if not data:
            break
        at = rng.randrange(len(data))
        action = rng.randrange(6)
        if action == 0:
            data[at] = rng.randrange(256)
        elif action == 1:
            data[at:at] = rng.randbytes(rng.randint(1, 40))
        elif action == 2:
            del data[at : at + rng.randint(1, 40)]
        elif action == 3:
            span = data[at : at + rng.randint(1, 80)]
            data[at:at] = span * rng.randint(1, 50)
        elif action == 4:
            data[at:at] = rng.choice(
                [b"\r\n", b"\n", b"\r", b"\x00", b":", b" ", b"\t", b"\r\n\r\n"]
            )
        else:
            del data[at:]
    return Case("mutated", [bytes(data)], half_close=rng.random() < 0.5)


METHODS = [
    b"GET", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD", b"TRACE", b"CONNECT", b"post",
    b"POST ", b"P\x00ST", b"PROPFIND", b"X" * 300, b"", b"GET\tPOST", b"\xffPOST",
]  # fmt: skip
PATHS = [
    b"/webhooks/v1/shop/../../api/v1/subscribers", b"/webhooks/v1/%2e%2e/x", b"/webhooks/v1/",
    b"/webhooks/v1/shop?x=" + b"a" * 4000, b"/webhooks/v1/" + b"s" * 9000, b"/webhooks/v1/sh%00op",
    b"/webhooks/v1/\xff\xfe", b"//webhooks//v1//shop", b"/webhooks/v1/shop#frag", b"*",
    b"http://evil.example/webhooks/v1/shop", b"/webhooks/v1/SHOP", b"/webhooks/v1/%", b"",
    b"/api/v1/subscribers", b"/metrics", b"/healthz", b"/webhooks/v1/shop/extra",
    b"/webhooks/v1/\xd8\x00", b"/webhooks/v1/open%20x",
]  # fmt: skip


def methods_and_paths(rng: random.Random) -> Case:
    body = _order(rng)
    method = rng.choice(METHODS) if rng.random() < 0.7 else b"POST"
    path = rng.choice(PATHS) if rng.random() < 0.7 else b"/webhooks/v1/open"
    return Case("method-path", [http(method, path, [*_common(body), (b"X-Event-Id", b"m1")], body)])


def _hostile_headers(rng: random.Random, body: bytes) -> list[Header]:
    choices: list[Callable[[], list[Header]]] = [
        lambda: [(b"X-Big", b"v" * rng.choice([8000, 8191, 9000, 70000]))],
        lambda: [(f"X-H{i}".encode(), b"v") for i in range(rng.choice([100, 129, 300]))],
        lambda: [(b"Content-Length", b"5"), (b"Content-Length", str(len(body)).encode())],
        lambda: [(b"Transfer-Encoding", b"chunked")],
        lambda: [(b"Transfer-Encoding", rng.choice([b"gzip, chunked", b"chunked, identity", b"xchunked", b"chunked\x00"]))],
        lambda: [(b"Content-Length", rng.choice([b"-1", b"1e3", b" 12", b"99999999999999999999", b"0x10", b"+5", b""]))],
        lambda: [(b"Host", b"a"), (b"Host", b"b")],
        lambda: [(b"Expect", b"100-continue")],
        lambda: [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Key", b"x")],
        lambda: [(b"Upgrade", b"h2c"), (b"HTTP2-Settings", b"AAMAAABkAAQAAP__")],
        lambda: [(b"X-Folded", b"a\r\n  folded")],
        lambda: [(b"X-Bad\x01Name", b"v")],
        lambda: [(b"X-Bad-Value", b"a\x00b")],
        lambda: [(b"X-Latin", bytes(range(128, 256)))],
        lambda: [(b"Content-Type", rng.choice([b"application/json; charset=ebcdic", b"multipart/form-data; boundary=", b"\xff", b"a" * 5000]))],
        lambda: [(b"X-Forwarded-For", rng.choice([b"1.2.3.4, ::1, garbage", b"999.1.1.1", b"[::1]:80" * 100]))],
        lambda: [(b"X-Shopify-Hmac-Sha256", rng.choice([b"", b"=", b"\xff" * 44, b"a" * 10000]))],
        lambda: [(b"webhook-signature", rng.choice([b"v1,", b"v1", b"v1,!!!", b"v1a,abc v1,", b" " * 100]))],
        lambda: [(b"webhook-timestamp", rng.choice([b"-1", b"99999999999999999999", b"1e9", b"\xff"]))],
        lambda: [(b"Authorization", b"Bearer " + b"x" * 5000)],
    ]  # fmt: skip
    extra: list[Header] = []
    for _ in range(rng.randint(1, 3)):
        extra += rng.choice(choices)()
    return extra


def headers(rng: random.Random) -> Case:
    body = _order(rng)
    source = rng.choice(["shop", "json", "std", "open"])
    raw = signed(rng, source, body)
    head, _, rest = raw.partition(b"\r\n\r\n")
    extra = b"".join(b"\r\n" + n + b": " + v for n, v in _hostile_headers(rng, body))
    return Case("headers", [head + extra + b"\r\n\r\n" + rest], half_close=rng.random() < 0.3)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_IDS: list[object] = [
    "", " ", "a" * 512, "a" * 513, "a" * 100_000, "\x00", "nul\x00inside", "\ud800", "é" * 300,
    "🙂" * 200, "line\nbreak", 0, -1, 2**63, 2**200, 1.5, 1e308, True, None, [], {}, {"id": 1},
    [1, 2], "../../etc/passwd", "' OR 1=1 --", "%s%s%n", "\\u0000",
]  # fmt: skip


def signed_bodies(rng: random.Random) -> Case:
    """Valid signatures over hostile JSON: odd ids, types and keys, deep nesting, bad UTF-8."""
    pick = rng.randrange(7)
    if pick == 0:
        body = _deep(rng.choice([100, 1000, 5000, 30000]))
    elif pick == 1:
        body = b'{"id": "' + rng.randbytes(40) + b'", "type": "x"}'
    elif pick == 2:
        body = rng.choice(
            [
                b"",
                b" ",
                b"null",
                b"[]",
                b"\xef\xbb\xbf{}",
                b"{" * 10,
                b'{"id":1e999}',
                b'{"id":NaN}',
            ]
        )
    elif pick == 3:
        body = b'{"id": 1, "type": "a", ' + b'"k": 1, ' * 5000 + b'"z": 0}'
    else:
        value = rng.choice(HOSTILE_IDS)
        field = rng.choice(["id", "type", "order"])
        document: dict[str, object] = {"id": f"h-{rng.getrandbits(40)}", "type": "orders/create"}
        document[field] = value if field != "order" else {"id": value}
        body = _dumps(document)
    source = rng.choice(["json", "json", "std", "shop", "open"])
    event_id = None
    if source != "json" and rng.random() < 0.6:
        event_id = rng.choice([b"", b"a" * 600, b"\xff\xfe", b"caf\xc3\xa9", b"x\x7f", b"\xc3"])
    return Case("signed-body", [signed(rng, source, body, event_id)])


def _dumps(document: dict[str, object]) -> bytes:
    try:
        return orjson.dumps(document)
    except (TypeError, orjson.JSONEncodeError):
        return repr(document).encode("utf-8", "surrogatepass")


def encodings(rng: random.Random) -> Case:
    """Content-Encoding: valid, corrupt, truncated, unknown, stacked, and a gzip bomb."""
    plain = _order(rng)
    pick = rng.randrange(7)
    if pick == 0:
        body, encoding = gzip.compress(plain), b"gzip"
    elif pick == 1:
        body, encoding = zlib.compress(plain), b"deflate"
    elif pick == 2:
        body, encoding = gzip.compress(b"\x00" * (MAX_BODY * 40)), b"gzip"  # 2.5 MB from ~3 KB
    elif pick == 3:
        body, encoding = gzip.compress(plain)[:-8], b"gzip"
    elif pick == 4:
        body, encoding = rng.randbytes(200), rng.choice([b"gzip", b"deflate", b"br", b"zstd"])
    elif pick == 5:
        body, encoding = (
            plain,
            rng.choice([b"x-unknown", b"gzip, gzip", b"identity", b"*", b"\xff"]),
        )
    else:
        body, encoding = gzip.compress(gzip.compress(plain)), b"gzip, gzip"
    source = rng.choice(["json", "open", "shop"])
    raw = signed(rng, source, body)
    head, _, rest = raw.partition(b"\r\n\r\n")
    return Case("encoding", [head + b"\r\nContent-Encoding: " + encoding + b"\r\n\r\n" + rest])


def chunked(rng: random.Random) -> Case:
    body = _order(rng)
    head = http(
        b"POST",
        b"/webhooks/v1/open",
        [(b"Host", b"g"), (b"Transfer-Encoding", b"chunked"), (b"X-Event-Id", b"c1"), (b"Connection", b"close")],
    )  # fmt: skip
    pick = rng.randrange(6)
    if pick == 0:
        payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    elif pick == 1:
        payload = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    elif pick == 2:
        payload = b"ffffffffffffffffff\r\n" + body
    elif pick == 3:
        payload = b"%x;ext=1;x\r\n%s\r\n0\r\nTrailer: x\r\n\r\n" % (len(body), body)
    elif pick == 4:
        payload = b"4000\r\n" + b"a" * 0x4000 + b"\r\n" * 1  # then stop: truncated stream
    else:
        payload = b"".join(b"1\r\nx\r\n" for _ in range(MAX_BODY + 10)) + b"0\r\n\r\n"
    return Case("chunked", [head + payload], half_close=pick in (2, 4))


def oversized(rng: random.Random) -> Case:
    pick = rng.randrange(4)
    if pick == 0:  # declared too large, nothing sent
        head = http(
            b"POST",
            b"/webhooks/v1/open",
            [(b"Host", b"g"), (b"Content-Length", b"%d" % (MAX_BODY * 100))],
        )
        return Case("oversized", [head])
    size = {1: MAX_BODY, 2: MAX_BODY + 1, 3: MAX_BODY * 8}[pick]
    body = b'{"id":"' + b"a" * max(size - 10, 0) + b'"}'
    return Case("oversized", [signed(rng, rng.choice(["json", "open"]), body[:size])])


def truncated(rng: random.Random) -> Case:
    """A body shorter than declared, then the client stops sending (or goes quiet)."""
    body = _order(rng)
    raw = signed(rng, rng.choice(["json", "open", "shop"]), body)
    cut = len(raw) - rng.randint(1, len(body))
    return Case("truncated", [raw[:cut]], half_close=rng.random() < 0.7)


PROTOCOL = [
    b"GET /healthz HTTP/1.0\r\n\r\n", b"GET /healthz\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, b"\r\n" * 2000 + b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: g\r\n\r\n", b"POST /webhooks/v1/open http/1.1\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: g\r\n\r\n", b"CONNECT gateway:443 HTTP/1.1\r\nHost: g\r\n\r\n",
    b"POST /webhooks/v1/open HTTP/9.9\r\nHost: g\r\n\r\n", b"POST /webhooks/v1/open HTTP/1.1\nHost: g\n\n",
    b"\x00" * 100, b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n" * 20,
]  # fmt: skip


def protocol(rng: random.Random) -> Case:
    if rng.random() < 0.3:
        return Case("protocol", [rng.randbytes(rng.randint(1, 3000))], half_close=True)
    return Case("protocol", [rng.choice(PROTOCOL)], half_close=rng.random() < 0.5)


def slow_pieces(rng: random.Random) -> Case:
    """A valid request sent in small pieces with short pauses: it must still be taken."""
    raw = signed(rng, "open", _order(rng))
    size = max(len(raw) // rng.randint(2, 6), 1)
    return Case("in-pieces", [raw[i : i + size] for i in range(0, len(raw), size)], pause=0.05)


KINDS: list[tuple[Callable[[random.Random], Case], int]] = [
    (valid, 5), (mutated, 25), (methods_and_paths, 6), (headers, 16), (signed_bodies, 16),
    (encodings, 8), (chunked, 6), (oversized, 4), (truncated, 6), (protocol, 6), (slow_pieces, 2),
]  # fmt: skip


def cases(seed: int, count: int) -> Iterator[Case]:
    """``count`` cases, made as they are asked for (a full run would not fit in memory)."""
    rng = random.Random(seed)
    makers, weights = zip(*KINDS, strict=True)
    for _ in range(count):
        yield rng.choices(makers, weights)[0](rng)
