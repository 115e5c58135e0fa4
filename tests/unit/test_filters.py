"""Event-type globs: one rule in Python (``matches``) and in SQL (``glob_to_like``)."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.event_types import glob_to_like, matches


def reference_glob(pattern: str, text: str) -> bool:
    """``*`` any run, ``?`` exactly one character, everything else itself."""

    @cache
    def at(p: int, t: int) -> bool:
        if p == len(pattern):
            return t == len(text)
        if pattern[p] == "*":
            return at(p + 1, t) or (t < len(text) and at(p, t + 1))
        if t == len(text):
            return False
        return (pattern[p] == "?" or pattern[p] == text[t]) and at(p + 1, t + 1)

    return at(0, 0)


def reference_like(pattern: str, text: str) -> bool:
    """PostgreSQL ``LIKE`` with its default escape ``\\``: ``%`` any run, ``_`` one char."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(("lit", pattern[i + 1]))
            i += 2
        elif pattern[i] == "\\":
            raise ValueError("LIKE pattern must not end with escape character")
        else:
            kind = {"%": "any", "_": "one"}.get(pattern[i], "lit")
            tokens.append((kind, pattern[i]))
            i += 1

    @cache
    def at(p: int, t: int) -> bool:
        if p == len(tokens):
            return t == len(text)
        kind, char = tokens[p]
        if kind == "any":
            return at(p + 1, t) or (t < len(text) and at(p, t + 1))
        if t == len(text):
            return False
        return (kind == "one" or char == text[t]) and at(p + 1, t + 1)

    return at(0, 0)


@pytest.mark.parametrize(
    ("glob", "like"),
    [
        ("orders/create", "orders/create"),
        ("orders/*", "orders/%"),
        ("order?/create", "order_/create"),
        ("50%", "50\\%"),
        ("snake_case", "snake\\_case"),
        ("back\\slash", "back\\\\slash"),
        ("*%_?\\", "%\\%\\__\\\\"),
        ("[abc]", "[abc]"),
    ],
)
def test_glob_to_like_translates_wildcards_and_escapes_like_metacharacters(
    glob: str, like: str
) -> None:
    assert glob_to_like(glob) == like


def test_no_patterns_match_every_event_type_even_none() -> None:
    assert matches([], "orders/create")
    assert matches((), "")
    assert matches([], None)


def test_an_event_without_a_type_never_matches_a_non_empty_filter() -> None:
    assert not matches(["*"], None)
    assert not matches(["orders/*"], None)


def test_a_trailing_star_matches_everything_under_the_prefix() -> None:
    assert matches(["orders/*"], "orders/create")
    assert matches(["orders/*"], "orders/")
    assert not matches(["orders/*"], "refunds/create")
    assert not matches(["orders/*"], "orders")


def test_any_pattern_in_the_list_is_enough() -> None:
    assert matches(["orders/*", "refunds/create"], "refunds/create")
    assert not matches(["orders/*", "refunds/create"], "refunds/update")


def test_a_pattern_without_wildcards_matches_only_the_whole_type() -> None:
    assert matches(["orders/create"], "orders/create")
    assert not matches(["orders/create"], "orders/created")
    assert not matches(["orders/create"], "xorders/create")


def test_question_mark_matches_exactly_one_character() -> None:
    assert matches(["order?"], "orders")
    assert not matches(["order?"], "order")
    assert not matches(["order?"], "orderss")


def test_square_brackets_and_like_metacharacters_are_literal() -> None:
    assert matches(["[abc]"], "[abc]")
    assert not matches(["[abc]"], "a")
    assert matches(["100%"], "100%")
    assert not matches(["100%"], "1000")
    assert matches(["a_b"], "a_b")
    assert not matches(["a_b"], "axb")
    assert matches(["a.b"], "a.b")
    assert not matches(["a.b"], "axb")


def test_a_wildcard_matches_across_a_newline() -> None:
    assert matches(["a*b"], "a\nb")
    assert matches(["a?b"], "a\nb")
    assert not matches(["ab"], "ab\n")


def test_the_reference_matchers_agree_with_known_cases() -> None:
    assert reference_glob("orders/*", "orders/create")
    assert not reference_glob("orders/*", "refunds/create")
    assert reference_like("orders/%", "orders/create")
    assert reference_like("snake\\_case", "snake_case")
    assert not reference_like("snake\\_case", "snakexcase")


ascii_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("ab/.*?%_\\[]"), st.characters(min_codepoint=1, max_codepoint=127)
    ),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(pattern=ascii_text, event_type=ascii_text)
def test_matches_agrees_with_a_reference_glob_matcher(pattern: str, event_type: str) -> None:
    assert matches([pattern], event_type) == reference_glob(pattern, event_type)


@settings(max_examples=500, deadline=None)
@given(pattern=ascii_text, event_type=ascii_text)
def test_the_like_translation_is_the_same_rule_as_the_glob(pattern: str, event_type: str) -> None:
    assert reference_like(glob_to_like(pattern), event_type) == reference_glob(pattern, event_type)


@st.composite
def pattern_and_near_miss(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern, and a type that matches it or misses by one edit."""
    pattern = draw(ascii_text)
    one_char = st.characters(min_codepoint=1, max_codepoint=127)
    parts = [
        draw(st.text(alphabet=one_char, max_size=3))
        if char == "*"
        else draw(one_char)
        if char == "?"
        else char
        for char in pattern
    ]
    event_type = "".join(parts)
    if event_type and draw(st.booleans()):
        i = draw(st.integers(0, len(event_type) - 1))
        edit = draw(st.sampled_from(["replace", "delete", "double"]))
        new = {"replace": draw(one_char), "delete": "", "double": event_type[i] * 2}[edit]
        event_type = event_type[:i] + new + event_type[i + 1 :]
    return pattern, event_type


@settings(max_examples=500, deadline=None)
@given(case=pattern_and_near_miss())
def test_matches_and_the_like_translation_agree_on_near_misses(case: tuple[str, str]) -> None:
    pattern, event_type = case
    expected = reference_glob(pattern, event_type)
    assert matches([pattern], event_type) == expected
    assert reference_like(glob_to_like(pattern), event_type) == expected


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(alphabet="abc/_%", max_size=6), rest=ascii_text)
def test_a_prefix_star_glob_matches_whatever_follows_the_prefix(prefix: str, rest: str) -> None:
    assert matches([prefix + "*"], prefix + rest)
    assert reference_like(glob_to_like(prefix + "*"), prefix + rest)
