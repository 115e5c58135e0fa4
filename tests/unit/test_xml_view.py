"""XML bodies: the hardened parse refuses what reaches beyond the document, and the one
JSON view reads as documented (gateway/domain/xmlview.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from gateway.domain.media import is_xml
from gateway.domain.xmlview import (
    DOCTYPE_REFUSED,
    MAX_ATTRIBUTE_CHARS,
    MAX_DEPTH,
    XmlRefused,
    parse_xml,
)
from testkit.xmlbodies import HOSTILE, order


def view(xml: str | bytes) -> object:
    return parse_xml(xml.encode() if isinstance(xml, str) else xml).view


README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = re.compile(r"```xml\n(?P<xml>.*?)```\n```json\n(?P<json>.*?)```", re.DOTALL)


def test_the_readmes_example_reads_as_the_readme_shows() -> None:
    [example] = EXAMPLE.findall(README.read_text())
    xml, shown = example

    assert view(xml) == json.loads(shown)
    assert view(xml) == {
        "order": {"@id": "7", "line": [{"@sku": "A"}, {"@sku": "B", "#text": "2"}], "note": ""}
    }


def test_a_single_child_is_its_value_and_a_repeated_one_an_array_in_document_order() -> None:
    assert view("<o><line>a</line></o>") == {"o": {"line": "a"}}
    assert view("<o><line>a</line><x/><line>b</line><line>c</line></o>") == {
        "o": {"line": ["a", "b", "c"], "x": ""}
    }


def test_an_element_with_only_text_is_a_string_and_with_attributes_an_object() -> None:
    assert view("<o><total>39.80</total></o>") == {"o": {"total": "39.80"}}
    assert view('<o><total currency="EUR">39.80</total></o>') == {
        "o": {"total": {"@currency": "EUR", "#text": "39.80"}}
    }
    assert view('<o><total currency="EUR"/></o>') == {"o": {"total": {"@currency": "EUR"}}}


def test_numbers_and_booleans_stay_the_strings_they_were_sent_as() -> None:
    assert view("<o><sku>007</sku><code>1E5</code><paid>true</paid></o>") == {
        "o": {"sku": "007", "code": "1E5", "paid": "true"}
    }


def test_white_space_around_text_is_trimmed_and_white_space_alone_is_no_text() -> None:
    pretty = "<o>\n  <id>\n    7\n  </id>\n  <empty>   </empty>\n</o>\n"

    assert view(pretty) == {"o": {"id": "7", "empty": ""}}


def test_mixed_content_joins_its_pieces_of_text() -> None:
    assert view("<p>Hello <b>world</b>, bye <i>now</i></p>") == {
        "p": {"b": "world", "i": "now", "#text": "Hello , bye"}
    }


def test_names_keep_their_prefix_and_namespace_declarations_are_no_attributes() -> None:
    xml = (
        '<inv:Invoice xmlns:inv="urn:inv" xmlns:cbc="urn:cbc" xmlns="urn:default"'
        ' xml:lang="de"><cbc:ID cbc:scheme="x">42</cbc:ID><Note>n</Note></inv:Invoice>'
    )

    assert view(xml) == {
        "inv:Invoice": {
            "@xml:lang": "de",
            "cbc:ID": {"@cbc:scheme": "x", "#text": "42"},
            "Note": "n",
        }
    }


def test_comments_and_processing_instructions_are_left_out_and_cdata_is_text() -> None:
    xml = "<?xml version='1.0'?><!-- c --><o><?pi x?><a><![CDATA[<b>&amp;</b>]]></a><!-- d --></o>"

    assert view(xml) == {"o": {"a": "<b>&amp;</b>"}}


def test_entities_of_xml_itself_and_character_references_are_read() -> None:
    assert view("<o>&lt;&amp;&gt;&apos;&quot; &#233;&#x20AC;</o>") == {"o": "<&>'\" é€"}


def test_a_declared_encoding_is_honoured() -> None:
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><o>M\xfcller</o>'.encode("latin-1")

    assert view(latin) == {"o": "Müller"}


def test_a_realistic_order_reads_naturally() -> None:
    document = view(order(2))

    assert isinstance(document, dict)
    placed = document["order"]
    assert placed["@id"] == "1001"
    assert placed["shipping"]["country"] == {"@code": "DE", "#text": "Germany"}
    assert [line["@sku"] for line in placed["lines"]["line"]] == ["SKU-00000", "SKU-00001"]
    assert placed["lines"]["line"][0]["x:note"] == "gift"
    assert placed["lines"]["line"][0]["price"] == {"@currency": "EUR", "#text": "19.90"}


def test_nesting_up_to_the_bound_is_taken_and_one_deeper_is_refused() -> None:
    deepest = "<a>" * MAX_DEPTH + "</a>" * MAX_DEPTH
    document = view(deepest)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(document, dict)
        document = document["a"]
    assert document == {"a": ""}

    with pytest.raises(XmlRefused, match=f"deeper than {MAX_DEPTH} elements"):
        view("<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1))


def test_the_deepest_view_with_arrays_at_every_level_is_still_json() -> None:
    """Arrays double the JSON's depth; the bound keeps it within what orjson writes."""
    xml = "<a>" * (MAX_DEPTH - 1) + "<a/><a/>" + "</a>" * (MAX_DEPTH - 1)

    assert orjson.loads(orjson.dumps({"body": view(xml.replace("<a>", "<a><b/><b/>"))}))
    assert orjson.dumps(view(xml))


def test_an_attribute_up_to_the_bound_is_taken_and_a_longer_one_refused() -> None:
    longest = "x" * MAX_ATTRIBUTE_CHARS
    assert view(f'<r a="{longest}"/>') == {"r": {"@a": longest}}

    with pytest.raises(XmlRefused, match=f"longer than {MAX_ATTRIBUTE_CHARS} characters"):
        view(f'<r a="{longest}x"/>')


_DEEP = f"the XML nests deeper than {MAX_DEPTH} elements"
_MALFORMED = "the body is not well-formed XML: "
REASONS = {
    "billion laughs": DOCTYPE_REFUSED,
    "external entity (file)": DOCTYPE_REFUSED,
    "external entity (http)": DOCTYPE_REFUSED,
    "parameter entity": DOCTYPE_REFUSED,
    "quadratic blowup": DOCTYPE_REFUSED,
    "doctype without entities": DOCTYPE_REFUSED,
    "doctype with an external DTD": DOCTYPE_REFUSED,
    "deep nesting": _DEEP,
    "nesting just past the bound": _DEEP,
    "huge attribute": f"an attribute's value is longer than {MAX_ATTRIBUTE_CHARS} characters",
    "malformed": _MALFORMED + "Opening and ending tag mismatch",
    "undeclared entity": _MALFORMED + "Entity 'x' not defined",
    "doctype after the root": _MALFORMED + "Extra content at the end of the document",
    "empty": _MALFORMED + "Document is empty",
}


def test_every_hostile_document_has_its_expected_reason() -> None:
    assert REASONS.keys() == HOSTILE.keys()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_or_broken_document_is_refused_with_its_reason(name: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        parse_xml(HOSTILE[name])

    assert str(refused.value).startswith(REASONS[name])


def test_a_document_type_is_refused_before_any_of_its_declarations_is_read() -> None:
    """Its internal subset is never parsed: a declaration that would be an error in it
    does not change the answer."""
    broken_subset = b"<!DOCTYPE r [<!ENTITY oops SYSTEM>]><r/>"

    with pytest.raises(XmlRefused) as refused:
        parse_xml(broken_subset)

    assert str(refused.value) == DOCTYPE_REFUSED


def test_a_malformed_document_is_refused_with_libxml2s_reason_and_where() -> None:
    with pytest.raises(XmlRefused) as refused:
        parse_xml(b"<order><id>7</order>")

    assert str(refused.value) == (
        "the body is not well-formed XML: Opening and ending tag mismatch: id line 1 and"
        " order, line 1, column 21"
    )


def test_characters_postgresql_cannot_store_are_refused_by_the_parse() -> None:
    for reference in ("&#0;", "&#xD800;", "&#xFFFE;"):
        with pytest.raises(XmlRefused):
            parse_xml(f"<o>{reference}</o>".encode())


_MEASURE = textwrap.dedent(
    """
    import json, re, sys
    from gateway.domain.xmlview import XmlRefused, parse_xml
    from testkit.xmlbodies import HOSTILE, order

    def kib(field):
        status = open("/proc/self/status").read()
        return int(re.search(field + r":\\s+(\\d+) kB", status).group(1))

    body = HOSTILE[sys.argv[1]] if sys.argv[1] in HOSTILE else order(int(sys.argv[1]))
    parse_xml(order(6))  # the parser's own first-use allocations are not the input's
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # the peak (VmHWM) starts again from what is in use now
    before = kib("VmRSS")
    try:
        parse_xml(body)
        refused = False
    except XmlRefused:
        refused = True
    print(json.dumps({"refused": refused, "grown_kb": kib("VmHWM") - before, "size": len(body)}))
    """
)


def peak_growth(name: str) -> dict[str, int]:
    """Parse one body in a fresh interpreter; how much its peak RSS (VmHWM, Linux) grew
    over what it held before (KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, name], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_no_hostile_document_grows_the_parsing_process_by_more_than_a_few_megabytes() -> None:
    """Peak RSS, measured around the parse in a process of its own: nothing is expanded
    or built beyond the input's own size (the largest input is 0.9 MB)."""
    grown = {name: peak_growth(name) for name in HOSTILE}

    assert all(result["refused"] for result in grown.values())
    assert {name: r["grown_kb"] for name, r in grown.items() if r["grown_kb"] > 8 * 1024} == {}
    assert grown["billion laughs"]["grown_kb"] < 1024


def test_a_200_kb_order_is_parsed_within_a_small_multiple_of_its_size() -> None:
    grown = peak_growth("1200")

    assert not grown["refused"]
    assert grown["size"] > 200_000
    assert grown["grown_kb"] * 1024 < 30 * grown["size"]


@pytest.mark.parametrize(
    ("content_type", "xml"),
    [
        ("application/xml", True),
        ("text/xml; charset=utf-8", True),
        ("Application/XML", True),
        ("application/soap+xml", True),
        ("application/json", False),
        ("text/plain", False),
        ("application/xml-dtd", False),
        (None, False),
        ("", False),
    ],
)
def test_xml_is_told_by_its_media_type(content_type: str | None, xml: bool) -> None:
    assert is_xml(content_type) is xml
