"""Filters on content, in Python: the syntax Convoy's and Outpost's users write, each
refusal with where it is, each operator, and the one-line explanation of a refusal.

That PostgreSQL routes by the same rules is tests/integration/test_filter_agreement.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.filters import explain, filter_document, holds, parse_filter, read_jsonb
from gateway.domain.filters.regex import Matcher, RegexError, parse_regex
from gateway.domain.filters.syntax import Filter
from gateway.domain.privacy import redact_document
from gateway.domain.validation import Invalid
from gateway.store.records import Event

ORDER: dict[str, Any] = {
    "id": 5600000001042,
    "email": "jana.berg@example.com",
    "total_price": "254.98",
    "subtotal": 219.9,
    "currency": "EUR",
    "financial_status": "paid",
    "tags": ["vip", "wholesale"],
    "deleted_at": None,
    "test": False,
    "customer": {"id": 7000000042, "tier": "gold"},
    "line_items": [
        {"sku": "TSHIRT-BLK-M", "quantity": 2, "price": "19.95"},
        {"sku": "TOTE-NAT", "quantity": 1, "price": "14.50", "gift": True},
    ],
    "shipping_address": {"city": "Linz", "country_code": "AT", "zip": "4020"},
}
HEADERS = {"x-shopify-topic": "orders/create", "x-shopify-shop-domain": "shop.myshopify.com"}
DOCUMENT: dict[str, Any] = {
    "type": "orders/create",
    "source": "shop",
    "id": "evt_0001",
    "headers": HEADERS,
    "body": read_jsonb(__import__("orjson").dumps(ORDER)),
}


def parsed(raw: dict[str, Any]) -> Filter:
    node = parse_filter(raw)
    assert node is not None
    return node


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"metadata": {"source": "api"}}, "filter.metadata", "a webhook's are its headers"),
    ({"time": {"$gte": "2026-01-01"}}, "filter.time", "not a part of it"),
    ({"$gte": 5}, "filter.$gte", "an operator tests a field"),
    ({"$or": []}, "filter.$or", "expected a list of conditions"),
    ({"$or": {"body": {"a": 1}}}, "filter.$or", "expected a list of conditions"),
    ({"body": {"a": {"$like": "x"}}}, "filter.body.a.$like", "unknown operator"),
    ({"body": {"amount": {"$gte": [100]}}}, "filter.body.amount.$gte", "a number or a string"),
    ({"body": {"amount": {"$gte": 5, "currency": "EUR"}}}, "filter.body.amount.$gte", "beside"),
    ({"body": {"tags": ["vip"]}}, "filter.body.tags", "use $in"),
    ({"body": {"a": {"$eq": {"b": 1}}}}, "filter.body.a.$eq", "string, number, boolean or null"),
    ({"body": {"a": {"$in": []}}}, "filter.body.a.$in", "expected a list"),
    ({"body": {"a": {"$in": ["x", ["y"]]}}}, "filter.body.a.$in[1]", "string, number"),
    ({"body": {"a": {"$exist": 1}}}, "filter.body.a.$exist", "true or false"),
    ({"body": {"a": {"$startsWith": 5}}}, "filter.body.a.$startsWith", "expected a list of str"),
    ({"body": {"a": {"$endsWith": ["x", 5]}}}, "filter.body.a.$endsWith[1]", "a string"),
    ({"body": {"a": {"$regex": 5}}}, "filter.body.a.$regex", "expected a string"),
    ({"body": {"a": {"$regex": "(x"}}}, "filter.body.a.$regex", "unbalanced ( at position 0"),
    ({"body": {"a": {"$regex": "\\bword"}}}, "filter.body.a.$regex", "\\b is not supported"),
    ({"body": {"a": {"$gt": float("inf")}}}, "filter.body.a.$gt", "finite"),
    ({"body": {"a": "x\x00y"}}, "filter.body.a", "NUL"),
    ({"body": {"a..b": 1}}, "filter.body.a..b", "empty step"),
    ({"body": {"a.$ref": 1}}, "filter.body.a.$ref", "cannot start with $"),
    ({"body": {"items.1000000": 1}}, "filter.body.items.1000000", "index is at most"),
    ({"headers": {"x-tenant": {"id": "7"}}}, "filter.headers.x-tenant.id", "no fields"),
    ({"type": {"name": "x"}}, "filter.type.name", "type is a text"),
    ({"body": {}}, "filter.body", "expected an object"),
    ({"$or": [{"body": {"a": 1}}, {"body": {"b": {"$nope": 1}}}]}, "filter.$or[1].body.b.$nope",
     "unknown operator"),
    ({"body": {f"k{i}": i for i in range(101)}}, "filter.body.k100", "at most 100 tests"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "where", "why"), REFUSED)
def test_a_filter_outside_the_language_is_refused_naming_where_and_why(
    raw: dict[str, Any], where: str, why: str
) -> None:
    with pytest.raises(Invalid) as refused:
        parse_filter(raw)
    assert refused.value.field == where
    assert why in refused.value.reason


def test_an_empty_filter_takes_every_event() -> None:
    assert parse_filter({}) is None


HOLDS: list[tuple[dict[str, Any], bool]] = [
    # a plain value is equality; nested objects and dotted keys say the same
    ({"body": {"financial_status": "paid"}}, True),
    ({"body": {"shipping_address": {"country_code": "AT"}}}, True),
    ({"body": {"shipping_address.country_code": "DE"}}, False),
    ({"body.shipping_address.country_code": "AT"}, True),
    # $eq / $neq: each type only equals its own; $neq holds when nothing equals, missing too
    ({"body": {"id": {"$eq": 5600000001042}}}, True),
    ({"body": {"id": {"$eq": "5600000001042"}}}, False),
    ({"body": {"deleted_at": None}}, True),
    ({"body": {"test": False}}, True),
    ({"body": {"test": {"$eq": 0}}}, False),
    ({"body": {"currency": {"$neq": "USD"}}}, True),
    ({"body": {"currency": {"$neq": "EUR"}}}, False),
    ({"body": {"cancel_reason": {"$neq": "fraud"}}}, True),
    # a number also matches a string holding one (Shopify's prices): Convoy's coercion
    ({"body": {"total_price": {"$gte": 100}}}, True),
    ({"body": {"total_price": {"$lt": 254.98}}}, False),
    ({"body": {"total_price": {"$eq": 254.98}}}, True),
    ({"body": {"subtotal": {"$gt": 219.89, "$lte": 219.9}}}, True),
    ({"body": {"currency": {"$gt": 5}}}, False),
    # strings order by code point
    ({"body": {"currency": {"$gte": "EUR", "$lt": "EUS"}}}, True),
    ({"body": {"email": {"$gt": "k"}}}, False),
    # $in / $nin: one of a list; a string for a substring (Outpost)
    ({"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}}, True),
    ({"body": {"shipping_address.country_code": {"$nin": ["DE", "AT"]}}}, False),
    ({"body": {"customer.id": {"$in": [7000000042, "x", None]}}}, True),
    ({"body": {"email": {"$in": "@example."}}}, True),
    ({"body": {"nowhere": {"$nin": ["x"]}}}, True),
    # arrays: any element; an index; $ for every element (Convoy)
    ({"body": {"tags": "vip"}}, True),
    ({"body": {"tags": {"$in": ["retail", "wholesale"]}}}, True),
    ({"body": {"tags": {"$neq": "vip"}}}, False),
    ({"body": {"line_items.sku": "TOTE-NAT"}}, True),
    ({"body": {"line_items": {"sku": "TOTE-NAT"}}}, True),
    ({"body": {"line_items.$.sku": "TOTE-NAT"}}, True),
    ({"body": {"line_items.0.sku": "TOTE-NAT"}}, False),
    ({"body": {"line_items.1.sku": "TOTE-NAT"}}, True),
    ({"body": {"line_items.quantity": {"$gte": 2}}}, True),
    ({"body": {"line_items.gift": True}}, True),
    # each operator of an object is tested on its own (a value for each may differ)
    ({"body": {"line_items.price": {"$gt": 19, "$lt": 15}}}, True),
    # $exist
    ({"body": {"deleted_at": {"$exist": True}}}, True),
    ({"body": {"cancelled_at": {"$exist": False}}}, True),
    ({"body": {"line_items.gift": {"$exist": True}}}, True),
    ({"body": {"line_items.5": {"$exist": True}}}, False),
    # strings: $regex (searched, not anchored), $startsWith, $endsWith, lists of either
    ({"body": {"email": {"$regex": "^[a-z.]+@example\\.com$"}}}, True),
    ({"body": {"shipping_address.zip": {"$regex": "^\\d{5}$"}}}, False),
    ({"body": {"line_items.sku": {"$regex": "BLK"}}}, True),
    ({"body": {"line_items.sku": {"$startsWith": "TSHIRT"}}}, True),
    ({"body": {"line_items.sku": {"$startsWith": ["JKT", "SOCK"]}}}, False),
    ({"body": {"email": {"$endsWith": ["@example.org", "@example.com"]}}}, True),
    ({"body": {"id": {"$startsWith": "56"}}}, False),
    # logic
    ({"$or": [{"body": {"currency": "USD"}}, {"body": {"tags": "vip"}}]}, True),
    ({"$and": [{"body": {"currency": "EUR"}}, {"body": {"tags": "retail"}}]}, False),
    ({"$not": {"body": {"financial_status": "refunded"}}}, True),
    ({"body": {"financial_status": {"$not": {"$in": ["refunded", "voided"]}}}}, True),
    ({"body": {"total_price": {"$or": [{"$lt": 10}, {"$gt": 200}]}}}, True),
    # headers (any case in the filter), type, source, id
    ({"headers": {"X-Shopify-Topic": "orders/create"}}, True),
    ({"headers.x-shopify-shop-domain": {"$endsWith": ".myshopify.com"}}, True),
    ({"headers": {"x-missing": {"$exist": False}}}, True),
    ({"type": {"$startsWith": "orders/"}}, True),
    ({"type": "refunds/create"}, False),
    ({"source": {"$in": ["shop", "woo"]}}, True),
    ({"id": {"$regex": "^evt_"}}, True),
]


@pytest.mark.parametrize(("raw", "expected"), HOLDS)
def test_each_operator_decides_as_the_readme_says(raw: dict[str, Any], expected: bool) -> None:
    assert holds(parsed(raw), DOCUMENT) is expected


def test_a_convoy_filter_works_as_written() -> None:
    convoy = {
        "body": {
            "total_price": {"$gte": 100},
            "line_items.$.sku": {"$in": ["TOTE-NAT", "SOCK-GRY-L"]},
            "customer.tier": {"$neq": "bronze"},
            "$or": [{"currency": "EUR"}, {"currency": "CHF"}],
        },
        "headers": {"x-shopify-topic": "orders/create"},
    }
    assert holds(parsed(convoy), DOCUMENT)


def test_an_outpost_filter_works_as_written() -> None:
    outpost = {
        "data": {
            "financial_status": {"$not": {"$in": ["refunded", "voided"]}},
            "customer": {"tier": "gold"},
            "tags": "wholesale",
            "email": {"$endsWith": "@example.com"},
        },
        "$or": [{"topic": "orders/create"}, {"topic": "orders/paid"}],
    }
    assert holds(parsed(outpost), DOCUMENT)
    assert parsed(outpost) == parsed(
        {
            "body": outpost["data"],
            "$or": [{"type": "orders/create"}, {"type": "orders/paid"}],
        }
    )


def test_the_explanation_names_the_test_that_failed_and_the_value_it_found() -> None:
    france = {**DOCUMENT, "body": {**ORDER, "shipping_address": {"country_code": "FR"}}}
    warehouse = parsed({"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}})
    assert (
        explain(warehouse, france) == "filter: shipping_address.country_code $in [DE, AT]: was FR"
    )


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"body": {"currency": "EUR", "cancel_reason": "fraud"}},
         "filter: cancel_reason $eq fraud: was missing"),
        ({"body": {"tags": {"$nin": ["vip"]}}}, "filter: tags $nin [vip]: was [vip, wholesale]"),
        ({"body": {"deleted_at": {"$exist": False}}}, "filter: deleted_at $exist false: was null"),
        ({"headers": {"x-shopify-topic": "orders/paid"}},
         "filter: headers.x-shopify-topic $eq orders/paid: was orders/create"),
        ({"type": {"$regex": "^refunds/"}}, "filter: type $regex ^refunds/: was orders/create"),
        ({"$not": {"body": {"financial_status": "paid"}}},
         "filter: $not financial_status $eq paid: was paid"),
        ({"$or": [{"body": {"currency": "USD"}}, {"body": {"total_price": {"$gte": 1000}}}]},
         "filter: none of: currency $eq USD: was EUR; total_price $gte 1000: was 254.98"),
        ({"$not": {"$and": [{"type": "orders/create"}, {"source": "shop"}]}},
         "filter: $not ((type $eq orders/create and source $eq shop)): it held"),
    ],
)  # fmt: skip
def test_an_explanation_reads_as_the_filter_was_written(raw: dict[str, Any], why: str) -> None:
    assert explain(parsed(raw), DOCUMENT) == why


def test_a_filter_that_passes_has_nothing_to_explain() -> None:
    assert explain(parsed({"body": {"currency": "EUR"}}), DOCUMENT) is None


def test_an_explanation_never_shows_what_the_event_page_masks() -> None:
    shown = {**DOCUMENT, "body": redact_document(DOCUMENT["body"], ["/email"])}
    why = explain(parsed({"body": {"email": {"$endsWith": "@example.org"}}}), DOCUMENT, shown)
    assert why == "filter: email $endsWith @example.org: was [redacted]"


def test_long_values_and_many_values_are_cut_short_in_an_explanation() -> None:
    body = {"note": "x" * 500, "codes": list(range(40))}
    document = {**DOCUMENT, "body": body}
    assert explain(parsed({"body": {"note": "y"}}), document) == (
        "filter: note $eq y: was " + "x" * 60 + "…"
    )
    assert explain(parsed({"body": {"codes": 99}}), document) == (
        "filter: codes $eq 99: was [0, 1, 2, 3, 4, …]"
    )


# The regular expressions: one dialect, read alike by PostgreSQL and Python.


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "an empty pattern"),
        ("a" * 257, "at most 256"),
        ("(?i)paid", "only (...) and (?:...) groups"),
        ("(?=x)", "only (...) and (?:...) groups"),
        ("\\bpaid", "\\b is not supported"),
        ("(a)\\1", "\\1 is not supported"),
        ("\\p{L}", "\\p is not supported"),
        ("[[:alpha:]]", "write \\["),
        ("[]", "an empty []"),
        ("[z-a]", "from the lower character"),
        ("[\\d-z]", "from one character to another"),
        ("a**", "cannot be repeated directly"),
        ("a{2}{3}", "cannot be repeated directly"),
        ("a*?", "lazy quantifiers"),
        ("^*", "cannot be repeated"),
        ("+a", "repeats nothing"),
        ("a{101}", "at most 100"),
        ("a{3,2}", "n <= m"),
        ("a{,2}", "starts a count"),
        ("x}", "write \\}"),
        ("(a|)", "empty alternative"),
        ("((a{1,100}){1,100})", "too big"),
        ("(ab", "unbalanced ("),
        ("ab)", "unbalanced )"),
        ("ab\\", "cannot end with"),
    ],
)
def test_patterns_outside_the_dialect_are_refused_with_their_position(
    pattern: str, why: str
) -> None:
    with pytest.raises(RegexError) as refused:
        parse_regex(pattern)
    assert why in refused.value.message


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("b.c", "ab\ncd", True),  # . is any character, a newline too
        ("[^x]", "\n", True),
        ("b$", "ab\n", False),  # $ is the end of the text, not of a line
        ("^c", "ab\nc", False),
        ("\\d+", "٣", False),  # \d is ASCII, as in RE2 (Python's re would say yes)
        ("\\w", "é", False),
        ("\\s", "\u00a0", False),
        ("\\S", "é", True),
        ("[a-c\\]-]", "-", True),
        ("^(ab|cd){2}$", "abcd", True),
        ("^(ab|cd){2}$", "abcdab", False),
        ("colou?r", "The colour", True),
        ("a{0}b", "b", True),
        ("$^", "", True),
        ("x$^", "x", False),
        ("é+", "caffé", True),
        ("\\.com$", "example.com", True),
        ("\\.com$", "examplexcom", False),
    ],
)
def test_a_pattern_matches_as_postgresql_reads_it(pattern: str, text: str, found: bool) -> None:
    assert Matcher(parse_regex(pattern)).search(text) is found


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "(a+)+$", "(a*)*b", "(.*a){20}$"])
def test_a_pattern_that_backtracks_exponentially_elsewhere_runs_in_linear_time(
    pattern: str,
) -> None:
    text = "a" * 20_000 + "!"
    started = time.process_time()
    assert Matcher(parse_regex(pattern)).search(text) is False
    assert time.process_time() - started < 5.0  # re.search would not return this century


# The document, as PostgreSQL reads it.


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        (b'{"a": 1.50, "b": [1e2, -0]}', {"a": Decimal("1.50"), "b": [Decimal("1E+2"), 0]}),
        (b" [true, null] ", [True, None]),
        (b'"text"', "text"),
        (b'{"a": 1, "a": 2}', {"a": 2}),  # the last of a repeated key, as jsonb keeps it
        (b'{"a": "\\ud83d\\ude00"}', {"a": "😀"}),
        (b"", None),
        (b"<order/>", None),
        (b'{"a": NaN}', None),
        (b'{"a": Infinity}', None),
        (b'{"a": "\\u0000"}', None),  # jsonb has no NUL in a text
        (b'{"a": "\\ud800"}', None),  # nor a lone surrogate
        (b'{"a": 1}\x00', None),
        (b'{"a": "\xff"}', None),  # not UTF-8
        (b'\xef\xbb\xbf{"a": 1}', None),  # a byte-order mark
        (b"1e131071", Decimal("1e131071")),
        (b"1e131072", None),  # beyond numeric's range
        (b"0.1e-16383", None),
        (b"[" * 5000 + b"]" * 5000, None),
    ],
)
def test_the_body_is_read_as_postgresql_reads_jsonb(raw: bytes, read: object) -> None:
    assert read_jsonb(raw) == read


def test_an_xml_body_is_seen_through_its_json_view() -> None:
    event = Event(
        id="evt_1",
        source="erp",
        external_id="1",
        event_type=None,
        ordering_key=None,
        received_at=datetime.now(UTC),
        content_type="application/xml",
        headers={},
        body=b"<order><country>DE</country></order>",
        body_view={"order": {"country": "DE"}},
    )
    document = filter_document(event)
    assert document["body"] == {"order": {"country": "DE"}}
    assert holds(parsed({"body": {"order.country": "DE"}, "type": None}), document)
