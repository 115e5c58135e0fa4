"""Property: PostgreSQL, which routes events by a filter's compiled path, Python, which
explains on an event's page why a filter refused it, and the ingress's verdicts, which
route an event instead of the path when the ingress can be sure, decide alike.

Random events (JSON bodies written as senders write them, bodies that are no JSON,
XML views; headers, type, source) meet random filters (every operator, dotted paths
with array steps, ``$and`` ``$or`` ``$not``, patterns of the ``$regex`` dialect). Each
filter is evaluated by the fan-out's own SQL functions (``gateway_filter_body``,
``gateway_filter_variables``, ``jsonb_path_match`` in lax mode) over the stored body
bytes, by :func:`gateway.domain.filters.holds` over :func:`filter_document` of the same
event, and by a :class:`~gateway.domain.filters.judge.Judge` of them all over the event
as the ingress holds it (its body as received, its headers and XML view as JSON text);
a verdict may be missing, never differ. One database, one connection and one event loop
for every example.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.domain.filters import (
    as_stored,
    compile_filter,
    explain,
    filter_document,
    holds,
    parse_filter,
)
from gateway.domain.filters.judge import FilterInForce, Judge
from gateway.domain.filters.regex import RegexError, parse_regex
from gateway.store.database import Database
from gateway.store.records import Event

EXAMPLES = 400
KEYS = ("a", "b", "country", "x y", "é")
HEADER_NAMES = ("x-tenant", "x-shopify-topic", "content-type")
TYPES = (None, "orders/create", "orders/updated", "refunds/create", "")
SOURCES = ("shop", "erp")

DECIDE = """
SELECT coalesce(array_agg(
         jsonb_path_match(gateway_filter_body($1::bytea, $2::jsonb), p.path::jsonpath,
                          gateway_filter_variables($3, $4, $5, $6::jsonb), true)
         ORDER BY p.n), '{}')
FROM unnest($7::text[]) WITH ORDINALITY AS p(path, n)
"""

# Values a body holds and a filter compares with: they overlap, so tests both hold and fail.
WORDS = "DE AT FR de a ab 254.98 10 100 -0.5 1e5 007 1. abc.com é 😀 [hidden]"
TEXTS = (
    *WORDS.split(),
    "",
    " 5",
    "b\n",
)
NUMBERS = "0 -0 1 -1 1.5 1.50 10 100 254.98 1E+2 0.1 99.999999999999999 123456789012345678901"
OPERATORS = "$eq $neq $gt $gte $lt $lte $in $nin $exist $regex $startsWith $endsWith plain"
texts = st.one_of(st.sampled_from(TEXTS), st.text(st.sampled_from("ab.é\n-0159"), max_size=6))
numbers = st.one_of(
    st.sampled_from([Decimal(v) for v in NUMBERS.split()]),
    st.integers(-1000, 1000).map(Decimal),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)


def json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
        ),
        max_leaves=12,
    )


def number_text(value: Decimal, style: int) -> str:
    """A number as a sender may write it: plainly, with an exponent, as an integer."""
    if style == 1:
        return f"{value:E}"
    if style == 2 and value == value.to_integral_value():
        return str(int(value))
    return format(value, "f")


def write(value: Any, style: int) -> str:
    if isinstance(value, Decimal):
        return number_text(value, style)
    if isinstance(value, list):
        return "[" + ", ".join(write(v, style) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{orjson.dumps(k).decode()}: {write(v, style)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return orjson.dumps(value).decode()


NO_JSON = [
    b"<order/>",
    b"\xff{}",
    b'{"a": "\\u0000"}',
    b"",
    b"1e999999",
    b'{"a": "DE", "b": 1e-99999}',  # orjson reads these two; jsonb does not
    b'{"a": "DE", "b": 0.0e-16383}',
]


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, Any]:
    """A body as stored, and the XML view stored beside it (or ``None``)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:  # no JSON for PostgreSQL (nor for Python)
        raw = draw(st.sampled_from(NO_JSON))
        return raw, None
    if kind == 1:  # an XML body: its view holds only strings
        view = draw(st.dictionaries(st.sampled_from(KEYS), json_values(texts), min_size=1))
        return b"<order/>", view
    value = draw(json_values(scalars))
    return write(value, draw(st.integers(0, 2))).encode(), None


@st.composite
def fields(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["body", "body", "body", "headers", "type", "source", "id"]))
    if root == "headers":
        return f"headers.{draw(st.sampled_from(HEADER_NAMES))}"
    if root != "body":
        return root
    steps = draw(st.lists(st.sampled_from([*KEYS, "0", "1", "$"]), max_size=3))
    return ".".join(["body", *steps])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    atoms = ["a", "b", ".", "[ab]", "[^a]", "[0-9]", "\\d", "\\w", "\\s", "\\.", "é", "\\n", "-"]
    quantifiers = ["", "", "*", "+", "?", "{2}", "{1,2}", "{0,}"]
    pieces = [
        draw(st.sampled_from(atoms)) + draw(st.sampled_from(quantifiers))
        for _ in range(draw(st.integers(1, 3)))
    ]
    text = "".join(pieces)
    if draw(st.booleans()):
        text = f"(?:{text}|{draw(st.sampled_from(atoms))})"
    return ("^" if draw(st.booleans()) else "") + text + ("$" if draw(st.booleans()) else "")


def plain(value: Any) -> Any:
    """A value as a filter is written in JSON (numbers as int or float)."""
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and abs(value) < 2**63
            else float(value)
        )
    return value


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(OPERATORS.split()))
    field = draw(fields())
    if op == "plain":
        return {field: plain(draw(scalars))}
    if op in ("$eq", "$neq"):
        operand: Any = plain(draw(scalars))
    elif op in ("$gt", "$gte", "$lt", "$lte"):
        operand = plain(draw(st.one_of(numbers, texts)))
    elif op in ("$in", "$nin"):
        operand = draw(st.one_of(texts, st.lists(scalars.map(plain), min_size=1, max_size=4)))
    elif op == "$exist":
        operand = draw(st.booleans())
    elif op == "$regex":
        operand = draw(patterns())
    else:
        operand = draw(st.one_of(texts, st.lists(texts, min_size=1, max_size=3)))
    return {field: {op: operand}}


def filters() -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        comparisons(),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"$and": parts}),
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"$or": parts}),
            inner.map(lambda part: {"$not": part}),
        ),
        max_leaves=5,
    )


@st.composite
def events(draw: st.DrawFn) -> Event:
    body, view = draw(bodies())
    headers = draw(st.dictionaries(st.sampled_from(HEADER_NAMES), texts, max_size=3))
    return Event(
        id=draw(st.sampled_from(["evt_1", "evt_DE"])),
        source=draw(st.sampled_from(SOURCES)),
        external_id="1",
        event_type=draw(st.sampled_from(TYPES)),
        ordering_key=None,
        received_at=datetime.now(UTC),
        content_type="application/json",
        headers=headers,
        body=body,
        body_view=view,
    )


def judged(stored: Event, raws: list[dict[str, Any]]) -> Any:
    """The ingress's verdicts on ``stored`` by ``raws`` (the filters as stored)."""
    judge = Judge(
        [
            FilterInForce(f"sub_{n}", n, (), parse_filter(as_stored(raw)))
            for n, raw in enumerate(raws)
        ]
    )
    view = None if stored.body_view is None else orjson.dumps(stored.body_view).decode()
    return judge.verdicts(
        stored.source,
        stored.id,
        stored.event_type,
        orjson.dumps(stored.headers).decode(),
        stored.body,
        view,
    )


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    own = asyncio.new_event_loop()
    yield own
    own.close()


def test_the_generated_patterns_are_in_the_dialect() -> None:
    @settings(max_examples=200, deadline=None)
    @given(patterns())
    def parses(pattern: str) -> None:
        try:
            parse_regex(pattern)
        except RegexError as exc:
            pytest.fail(f"{pattern!r}: {exc}")

    parses()


def test_postgresql_and_python_decide_every_filter_alike(
    database_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    db = loop.run_until_complete(Database.connect(database_url, min_size=1, max_size=1))
    try:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(events(), st.lists(filters(), min_size=1, max_size=6))
        def alike(stored: Event, raws: list[dict[str, Any]]) -> None:
            nodes = [parse_filter(raw) for raw in raws]
            document = filter_document(stored)
            decided = loop.run_until_complete(
                db.pool.fetchval(
                    DECIDE,
                    stored.body,
                    stored.body_view,  # the pool's codec writes these two as jsonb
                    stored.event_type,
                    stored.source,
                    stored.id,
                    stored.headers,
                    [compile_filter(raw) for raw in raws],
                )
            )
            verdicts = judged(stored, raws)
            for n, (raw, node, in_sql) in enumerate(zip(raws, nodes, decided, strict=True)):
                assert node is not None
                in_python = holds(node, document)
                event(f"held: {in_python}")
                assert in_python is in_sql, (raw, compile_filter(raw), document, stored, decided)
                assert (explain(node, document) is None) is in_python
                if n in verdicts.undecided:
                    event("no verdict")
                else:
                    assert (n in verdicts.holding) is in_sql, (raw, stored, verdicts)

        alike()
    finally:
        loop.run_until_complete(db.close())
