"""One reading of msgspec's refusals, for the config file and the admin API alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import pytest

from gateway.api.models import SubscriberIn, decode_body
from gateway.config import ConfigError, load_config
from gateway.domain.validation import Invalid, describe
from gateway.http.problems import Problem


class Leaf(msgspec.Struct, forbid_unknown_fields=True):
    low: Annotated[int, msgspec.Meta(ge=1)] = 1
    high: int = 2

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise Invalid("high", "must not be below low")


class Root(msgspec.Struct, forbid_unknown_fields=True):
    leaves: list[Leaf] = []
    named: dict[str, Leaf] = {}


def refusal(raw: object, **options: bool) -> tuple[str, str]:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert(raw, Root)
    return describe(info.value, **options)


def test_a_constraint_is_reported_where_it_failed_in_msgspecs_words() -> None:
    assert refusal({"leaves": [{}, {"low": 0}]}) == ("leaves[1].low", "Expected `int` >= 1")


def test_a_rule_of_the_struct_names_its_field_after_the_structs_place() -> None:
    assert refusal({"leaves": [{"low": 3}]}) == ("leaves[0].high", "must not be below low")


def test_a_dict_key_is_not_named_by_msgspec() -> None:
    assert refusal({"named": {"a": {"low": 0}}}) == ("named[...].low", "Expected `int` >= 1")


def test_the_documents_own_type_is_refused_at_the_root() -> None:
    assert refusal([1]) == ("", "Expected `object`, got `array`")


def test_an_unknown_key_is_msgspecs_words_or_the_key_itself() -> None:
    raw = {"leaves": [{"colour": "red"}]}
    assert refusal(raw) == ("leaves[0]", "Object contains unknown field `colour`")
    assert refusal(raw, unknown_as_key=True) == ("leaves[0].colour", "unknown key")


@pytest.mark.parametrize(
    ("body", "detail", "field"),
    [
        (b'{"name": "wms", "url": "http://x/y", "max_attempts": 0}', "max_attempts: Expected `int` >= 1", "max_attempts"),
        (b'{"name": "wms", "url": "http://x/y", "retry_schedule": [-1]}', "retry_schedule[0]: Expected `float` >= 0.0", "retry_schedule[0]"),
        (b'{"name": "wms", "url": "http://x/y", "colour": 1}', "body: Object contains unknown field `colour`", ""),
        (b"[]", "body: Expected `object`, got `array`", ""),
    ],
)  # fmt: skip
def test_the_api_names_the_field_in_its_problem(body: bytes, detail: str, field: str) -> None:
    with pytest.raises(Problem) as info:
        decode_body(body, SubscriberIn)
    assert (info.value.status, info.value.detail) == (422, detail)
    assert info.value.extra["errors"] == [{"field": field, "message": detail.split(": ", 1)[1]}]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[retention.sources]\n"my-shop" = -1\n', "retention.sources.my-shop"),
        ('[retention.sources]\n"My Shop" = 1\n', "retention.sources.My Shop"),
        ('[privacy.sources]\n"my-shop" = ["total"]\n', "privacy.sources.my-shop[0]"),
        ('[privacy]\nredact = ["/a", "b"]\n', "privacy.redact[1]"),
    ],
)
def test_a_config_error_names_a_key_msgspec_leaves_unnamed(
    tmp_path: Path, section: str, key: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(section)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert (info.value.file, info.value.key) == (str(path), key)
