"""Reading event ids, types and ordering keys from headers or JSON pointers into the body."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from gateway.ingress.extract import ExtractError, extract, json_loader

HEADERS = CIMultiDict({"X-Event-Id": "evt_42", "X-Empty": ""})
BODY = (
    b'{"id": "evt_1", "type": "order.created", "n": 2432232314, "f": 1.5, "whole": 3.0,'
    b' "ok": true, "nothing": null, "obj": {"a/b": {"m~n": "deep"}}, "": "root-empty",'
    b' "list": ["zero", {"id": "one"}], "nested": {"list": []}}'
)


def get(location: str | None, body: bytes = BODY) -> str | None:
    return extract(location, HEADERS, body, json_loader(body))


def test_a_header_location_reads_the_header_case_insensitively() -> None:
    assert get("x-event-id") == "evt_42"


def test_a_missing_or_empty_header_gives_none() -> None:
    assert get("X-Absent") is None
    assert get("X-Empty") is None


def test_an_unset_location_gives_none() -> None:
    assert get(None) is None
    assert get("") is None


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/id", "evt_1"),
        ("/type", "order.created"),
        ("/obj/a~1b/m~0n", "deep"),
        ("/list/0", "zero"),
        ("/list/1/id", "one"),
        ("/", "root-empty"),
    ],
)
def test_a_json_pointer_reads_the_body(pointer: str, expected: str) -> None:
    assert get(pointer) == expected


@pytest.mark.parametrize(
    ("pointer", "expected"), [("/n", "2432232314"), ("/f", "1.5"), ("/whole", "3"), ("/ok", "true")]
)
def test_a_number_or_boolean_becomes_its_text(pointer: str, expected: str) -> None:
    assert get(pointer) == expected


@pytest.mark.parametrize(
    "pointer",
    [
        "/obj",
        "/list",
        "/nothing",
        "/missing",
        "/id/deeper",
        "/list/2",
        "/list/01",
        "/list/-",
        "/nested/list/0",
    ],
)
def test_objects_arrays_nulls_and_missing_paths_give_none(pointer: str) -> None:
    assert get(pointer) is None


@pytest.mark.parametrize("body", [b"", b"not json", b"{", b"\xff\xfe", b'{"id": 1e999}'])
def test_a_body_that_is_not_json_gives_none(body: bytes) -> None:
    assert get("/id", body) is None


def test_a_non_object_document_gives_none() -> None:
    assert get("/id", b'"just a string"') is None
    assert get("/0", b'["first"]') == "first"


def test_the_body_is_parsed_at_most_once_and_only_for_pointers() -> None:
    calls: list[int] = []
    loader = json_loader(BODY)

    def parsed() -> object:
        calls.append(1)
        return loader()

    assert extract("X-Event-Id", HEADERS, BODY, parsed) == "evt_42"
    assert calls == []
    for pointer in ("/id", "/type"):
        extract(pointer, HEADERS, BODY, parsed)
    assert loader() is loader()


def test_without_a_parser_the_body_is_parsed_on_demand() -> None:
    assert extract("/type", HEADERS, BODY) == "order.created"


def test_a_parser_that_gives_none_for_invalid_json_is_understood() -> None:
    assert extract("/id", HEADERS, b"nope", lambda: None) is None


def test_a_value_of_512_characters_is_accepted() -> None:
    assert get("/id", b'{"id": "' + b"x" * 512 + b'"}') == "x" * 512


def test_a_value_longer_than_512_characters_is_an_error_not_none() -> None:
    with pytest.raises(ExtractError, match="512"):
        get("/id", b'{"id": "' + b"x" * 513 + b'"}')
    with pytest.raises(ExtractError):
        extract("X-Long", CIMultiDict({"X-Long": "y" * 513}), b"", lambda: None)


def test_an_extract_error_is_a_value_error() -> None:
    assert issubclass(ExtractError, ValueError)


def test_a_value_with_a_nul_character_is_an_error() -> None:
    with pytest.raises(ExtractError):
        get("/id", b'{"id": "a\\u0000b"}')


def test_a_header_with_undecodable_bytes_is_an_error() -> None:
    with pytest.raises(ExtractError):
        extract("X-Id", CIMultiDict({"X-Id": "evt_\udcff"}), b"", lambda: None)
