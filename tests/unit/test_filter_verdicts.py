"""The ingress's verdicts on content filters (gateway/domain/filters/judge.py): the
README's rules, compiled once; and no verdict wherever the ingress cannot be sure to
decide as PostgreSQL would, which then decides itself.

That the verdicts and PostgreSQL agree on random events and filters is
tests/integration/test_filter_agreement.py; that the fan-out takes them only from the
filters in force, tests/integration/test_filter_verdicts.py.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.domain.filters import as_stored, parse_filter
from gateway.domain.filters.compiled import REGEX_TEXT_LIMIT
from gateway.domain.filters.judge import FilterInForce, Judge, Verdicts, gate, reads_alike
from gateway.domain.filters.syntax import Key
from tests.unit.test_content_filters import HEADERS, HOLDS, ORDER

BODY = orjson.dumps(ORDER)
HEADERS_JSON = orjson.dumps(HEADERS).decode()
AUSTRIA = {"body": {"shipping_address.country_code": "AT"}}


def judge(*raws: dict[str, Any] | None, sources: tuple[str, ...] = ()) -> Judge:
    """A judge by ``raws``, in order (``None``: a filter it may not judge by)."""
    return Judge(
        [
            FilterInForce(f"sub_{n}", n, sources, None if raw is None else parse_filter(raw))
            for n, raw in enumerate(raws)
        ]
    )


def verdicts(
    by: Judge, body: bytes = BODY, source: str = "shop", body_view: str | None = None
) -> Verdicts:
    return by.verdicts(source, "evt_0001", "orders/create", HEADERS_JSON, body, body_view)


def verdict(raw: dict[str, Any], body: bytes = BODY) -> str:
    """``1`` holds, ``0`` does not, ``-`` no verdict."""
    holding, undecided = verdicts(judge(raw), body)
    return "1" if holding else "-" if undecided else "0"


@pytest.mark.parametrize(("raw", "expected"), HOLDS)
def test_a_verdict_decides_each_operator_as_the_readme_says(
    raw: dict[str, Any], expected: bool
) -> None:
    # ORDER's one float is its subtotal: compared as a number, it is PostgreSQL's to decide
    if "subtotal" in str(raw):
        assert verdict(raw) == "-"
    else:
        assert verdict(raw) == ("1" if expected else "0")


def test_a_float_compared_as_a_number_gets_no_verdict_but_any_other_test_of_it_does() -> None:
    assert verdict({"body": {"subtotal": {"$gt": 100}}}) == "-"
    assert verdict({"body": {"subtotal": {"$in": [219.9, "x"]}}}) == "-"
    assert verdict({"body": {"subtotal": "219.9"}}) == "0"
    assert verdict({"body": {"subtotal": {"$exist": True}}}) == "1"
    assert verdict({"body": {"subtotal": {"$startsWith": "2"}}}) == "0"


def test_an_integer_beyond_64_bits_is_read_as_a_float_and_gets_no_verdict() -> None:
    body = b'{"id": 123456789012345678901234567890}'
    assert verdict({"body": {"id": {"$gte": 5}}}, body) == "-"
    assert verdict({"body": {"id": {"$exist": True}}}, body) == "1"


@pytest.mark.parametrize(
    "body",
    [
        b'{"order": "a\\u0000b", "country": "AT"}',  # jsonb holds no NUL
        b'{"country": "AT", "tiny": 1e-99999}',  # beyond numeric: orjson reads 0.0
        b'{"country": "AT", "zero": 0e9999999999}',
        b'{"country": "AT", "long": 0.' + b"0" * 20_000 + b"1}",
        b"<order><country>AT</country></order>",  # no JSON: PostgreSQL reads null
        b"[1e999999]",
        b'{"country": "AT"}\xff',
    ],
)
def test_a_body_postgresql_may_read_otherwise_is_left_undecided(body: bytes) -> None:
    by = judge({"body": {"country": "AT"}}, {"body": {"country": {"$neq": "AT"}}})
    assert verdicts(by, body) == Verdicts((), (0, 1))


def test_numbers_that_numeric_holds_are_read_alike() -> None:
    assert reads_alike(b'{"a": 1.5e-300, "b": 1E+308, "c": -0.0, "d": 12345678901234567890}')
    assert reads_alike(b'{"note": "a \\"quoted\\" \\/ text", "e": "e-123 in a word"}')
    assert not reads_alike(b'{"a": 1e-1000}')  # numeric holds it: a false alarm, no harm
    assert not reads_alike(b'{"a": "\\u0000"}')


def test_a_filter_is_judged_only_for_the_sources_it_takes() -> None:
    by = judge(AUSTRIA, sources=("erp",))
    assert verdicts(by, source="shop") == Verdicts((), ())
    assert verdicts(by, source="erp") == Verdicts((0,), ())


def test_a_filter_the_judge_may_not_judge_by_is_left_to_postgresql() -> None:
    by = judge(None, AUSTRIA)
    assert verdicts(by) == Verdicts((1,), (0,))
    assert verdicts(by, b"<not json/>") == Verdicts((), (0, 1))
    assert verdicts(judge(None, sources=("erp",))) == Verdicts((), ())


def test_a_pattern_over_a_long_text_is_left_to_postgresql() -> None:
    raw = {"body": {"note": {"$regex": "x$"}}}
    assert verdict(raw, orjson.dumps({"note": "x" * REGEX_TEXT_LIMIT})) == "1"
    assert verdict(raw, orjson.dumps({"note": "x" * (REGEX_TEXT_LIMIT + 1)})) == "-"


def test_an_xml_body_is_judged_by_its_view() -> None:
    view = orjson.dumps({"order": {"country": "AT"}}).decode()
    by = judge({"body": {"order.country": "AT"}})
    assert verdicts(by, b"<order><country>AT</country></order>", body_view=view) == Verdicts(
        (0,), ()
    )


def test_filters_on_one_field_are_each_decided_by_their_own_values() -> None:
    country = "shipping_address.country_code"
    by = judge(
        {"body": {country: "DE"}},
        {"body": {country: "AT"}},
        {"body": {country: {"$in": ["CH", "AT"]}}},
        {"$or": [{"body": {country: "DE"}}, {"body": {country: "FR"}}]},
        {"body": {country: "AT", "currency": "USD"}},
        {"body": {country: "AT", "tags": "vip"}},
        {"body": {"line_items.sku": {"$in": ["TOTE-NAT", "JKT"]}}},
        {"body": {country: {"$nin": ["AT"]}}},
        {"type": "orders/create", "body": {country: "AT"}},
    )
    holding, undecided = verdicts(by)
    assert sorted(holding) == [1, 2, 5, 6, 8]
    assert undecided == ()


def test_the_headers_are_read_only_for_a_filter_that_looks_at_them() -> None:
    by = judge({"body": {"currency": "EUR"}})
    assert by.verdicts("shop", "evt_1", None, "not json", BODY, None) == Verdicts((0,), ())
    by = judge({"headers": {"x-shopify-topic": "orders/create"}})
    assert verdicts(by) == Verdicts((0,), ())


def test_a_gate_is_a_field_that_must_hold_one_of_some_strings() -> None:
    def field(raw: dict[str, Any]) -> Any:
        node = parse_filter(raw)
        assert node is not None
        return gate(node)

    path = ("body", (Key("a"),))
    assert field({"body": {"a": "x"}}) == (path, frozenset({"x"}))
    assert field({"body": {"a": {"$in": ["x", "y"]}}}) == (path, frozenset({"x", "y"}))
    assert field({"body": {"b": {"$gt": 1}, "a": "x"}}) == (path, frozenset({"x"}))
    assert field({"$or": [{"body": {"a": "x"}}, {"body": {"a": "y"}}]}) == (
        path,
        frozenset({"x", "y"}),
    )
    assert field({"body": {"a": {"$in": ["x", 1]}}}) is None  # 1 matches "1.0" too
    assert field({"$or": [{"body": {"a": "x"}}, {"body": {"b": "y"}}]}) is None
    assert field({"$not": {"body": {"a": "x"}}}) is None
    assert field({"body": {"a": {"$neq": "x"}}}) is None


def test_a_filter_compiles_from_its_keys_in_the_order_postgresql_stores_them() -> None:
    raw = {"body": {"shipping_address.country_code": "AT", "total_price": {"$gte": 5}, "é": 1}}
    assert list(as_stored(raw)["body"]) == ["é", "total_price", "shipping_address.country_code"]
    assert as_stored({"$or": [{"bb": 1, "a": 2}]}) == {"$or": [{"a": 2, "bb": 1}]}
