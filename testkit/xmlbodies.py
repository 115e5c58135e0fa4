"""XML bodies: an order of any size, and the hostile documents the parse must refuse.

Every hostile document here is refused by the gateway with a 400 (``xml-refused``),
without expanding, fetching or building what it asks for. The external references point
at loopback port 9 (discard), so a parser that did follow them would reach nothing.
"""

from __future__ import annotations

__all__ = ["HOSTILE", "LAUGHS", "order"]


def order(lines: int, order_id: str = "1001") -> bytes:
    """A realistic order with ``lines`` order lines: 6 lines are about 1.4 KB, 1200 about
    200 KB. Attributes, a namespace (``x:note``), repeated and single elements."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<order id="{order_id}" currency="EUR" xmlns:x="urn:example:ext">\n'
        f"  <number>SO-{order_id}</number>\n  <created>2026-05-01T10:00:00Z</created>\n"
        '  <customer id="c-77"><name>Erika Mustermann</name>'
        "<email>erika@example.com</email></customer>\n"
        "  <shipping><street>Hauptstr. 1</street><city>Berlin</city><zip>10115</zip>"
        '<country code="DE">Germany</country></shipping>\n  <lines>\n'
    )
    body = "".join(
        f'    <line no="{n + 1}" sku="SKU-{n:05d}"><title>Item number {n} with a longer'
        ' description text</title><qty>2</qty><price currency="EUR">19.90</price>'
        "<x:note>gift</x:note></line>\n"
        for n in range(lines)
    )
    return (head + body + "  </lines>\n  <total>39.80</total>\n</order>\n").encode()


_LOL = "".join(f'  <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(1, 10))
LAUGHS = (
    f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n  <!ENTITY lol0 "lol">\n{_LOL}]>\n'
    "<lolz>&lol9;</lolz>"
).encode()
"""Billion laughs: 10^9 "lol"s (3 GB) from under 1 KB, if the entities were expanded."""

HOSTILE: dict[str, bytes] = {
    "billion laughs": LAUGHS,
    "external entity (file)": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    ),
    "external entity (http)": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'
    ),
    "parameter entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd">'
        b" %p;]><r>1</r>"
    ),
    "quadratic blowup": (  # 50 KB once, referenced 20,000 times: 1 GB, if expanded
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "'
        + b"x" * 50_000
        + b'">]><r>'
        + b"&a;" * 20_000
        + b"</r>"
    ),
    "deep nesting": b"<a>" * 100_000 + b"</a>" * 100_000,
    "nesting just past the bound": b"<a>" * 65 + b"</a>" * 65,
    "huge attribute": b'<r a="' + b"x" * 900_000 + b'"/>',
    "malformed": b"<order><id>7</order>",
    "doctype without entities": b'<?xml version="1.0"?><!DOCTYPE order><order><id>7</id></order>',
    "doctype with an external DTD": (
        b'<?xml version="1.0"?><!DOCTYPE order SYSTEM "http://127.0.0.1:9/order.dtd">'
        b"<order><id>7</id></order>"
    ),
    "undeclared entity": b"<order><id>&x;</id></order>",
    "doctype after the root": b"<order/><!DOCTYPE order>",
    "empty": b"",
}
"""Each hostile or broken document the parse refuses, by what it is."""
