"""``parse_duration``: the ``--ttl`` values of ``token create``."""

from __future__ import annotations

import argparse

import pytest

from gateway.cli import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 15 * 60),
        ("12h", 12 * 3600),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        (" 15m ", 900),
    ],
)
def test_a_duration_is_read_as_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0m", "-1", "1y", "", "m", "15 m", "1.5h", "15M", "h15"])
def test_a_malformed_or_non_positive_duration_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration"):
        parse_duration(text)


def test_the_refusal_quotes_what_was_given() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'1y'"):
        parse_duration("1y")
