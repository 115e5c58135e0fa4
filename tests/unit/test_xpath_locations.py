"""An XML source's event id, type and ordering key: ``xpath:`` expressions, checked when
the source is loaded, and JSON pointers into the body's view; neither reads a JSON body
as XML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from multidict import CIMultiDict

from gateway.config import ConfigError, load_config
from gateway.domain.source import SourceConfig, check_source
from gateway.domain.validation import Invalid
from gateway.domain.xmlview import parse_xml
from gateway.domain.xpath import XPathFailed, evaluate_xpath, xpath_problem
from gateway.ingress.extract import ExtractError, extract, json_loader
from testkit.xmlbodies import order

INVOICE = (
    b'<inv:Invoice xmlns:inv="urn:inv" xmlns:cbc="urn:cbc" xmlns="urn:default">'
    b"<cbc:ID>\n  INV-42\n</cbc:ID><Note>n</Note><Line/><Line/></inv:Invoice>"
)


def xpath(expression: str, body: bytes) -> str | None:
    return evaluate_xpath(f"xpath:{expression}", parse_xml(body))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("/order/@id", "1001"),
        ("/order/number", "SO-1001"),
        ("string(/order/customer/@id)", "c-77"),
        ("//line[2]/@sku", "SKU-00001"),
        ("/order/shipping/country", "Germany"),
        ("/order/customer", "Erika Mustermannerika@example.com"),
        ("concat(/order/@currency, '-', /order/number)", "EUR-SO-1001"),
        ("count(//line)", "3"),
        ("sum(//qty) div 4", "1.5"),
        ("boolean(//line)", "true"),
        ("/order/lines/line[1]/x:note", "gift"),
    ],
)
def test_an_xpath_reads_an_attribute_an_elements_text_or_a_computed_value(
    expression: str, expected: str
) -> None:
    assert xpath(expression, order(3)) == expected


def test_an_xpath_that_selects_nothing_or_only_white_space_gives_none() -> None:
    assert xpath("/order/nothing", order(1)) is None
    assert xpath("/order/@missing", order(1)) is None
    assert xpath("string(/order/nothing)", order(1)) is None
    assert xpath("1 div 0", order(1)) is None
    assert xpath("/r/a", b"<r><a>   </a></r>") is None


def test_an_xpath_uses_the_prefixes_the_document_declares_and_trims_the_text() -> None:
    assert xpath("/inv:Invoice/cbc:ID", INVOICE) == "INV-42"
    assert xpath("/*/*[local-name()='Note']", INVOICE) == "n"
    assert xpath("count(/*/*[local-name()='Line'])", INVOICE) == "2"


def test_a_prefix_the_document_does_not_declare_cannot_be_evaluated() -> None:
    with pytest.raises(XPathFailed, match="Undefined namespace prefix"):
        xpath("/other:Invoice", INVOICE)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "not an XPath 1.0 expression"),
        ("/order/", "not an XPath 1.0 expression"),
        ("/order[", "not an XPath 1.0 expression"),
        ("//line[@sku=]", "not an XPath 1.0 expression"),
        ("lower-case(/order/id)", "lower-case() is no XPath 1.0 function"),
        ("document('file:///etc/passwd')", "document() is no XPath 1.0 function"),
        ("/order[re:test(@id, 'x')]/@id", "re:test() is no XPath 1.0 function"),
        ("/order/id[. = $id]", "an XPath here has no variables ($id)"),
    ],
)
def test_an_expression_the_gateway_cannot_evaluate_is_refused_with_why(
    expression: str, reason: str
) -> None:
    problem = xpath_problem(f"xpath:{expression}")

    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "expression",
    [
        "/inv:Invoice/cbc:ID",
        "/order/@id",
        "string(/order/number)",
        "/order/line[position() = last()]/@sku",
        "count(//line) div (2) mod (3)",
        "/order/text()",
        "//node()[name() = 'id']",
        "concat('lower-case(', \"$x\", /order/@id)",
        "/order/child::line/attribute::sku",
        "/a-b.c/d_e",
    ],
)
def test_xpath_1_expressions_pass_and_a_prefix_is_left_to_the_document(expression: str) -> None:
    assert xpath_problem(f"xpath:{expression}") is None


def test_a_source_with_a_bad_xpath_is_refused_naming_the_field() -> None:
    for field in ("event_id", "event_type", "ordering_key"):
        source = SourceConfig(name="erp", scheme="none", **{field: "xpath:/order["})
        with pytest.raises(Invalid) as refused:
            check_source(source)
        assert refused.value.field == field
    check_source(SourceConfig(name="erp", scheme="none", event_id="xpath:/order/@id"))


def test_a_bad_xpath_in_the_file_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        textwrap.dedent(
            """
            [[sources]]
            name = "erp"
            scheme = "none"
            event_type = "xpath:name(/*)"
            event_id = "xpath:/order/id[. = $id]"
            """
        )
    )

    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})

    message = str(refused.value)
    assert message.startswith(f"{path}: sources[0].event_id: ")
    assert "has no variables ($id)" in message


HEADERS = CIMultiDict({"X-Event-Id": "from-a-header"})


def test_a_json_pointer_reads_an_xml_body_through_its_view() -> None:
    body = order(2)
    xml = parse_xml(body)

    def read(location: str) -> str | None:
        return extract(location, HEADERS, body, lambda: xml.view, xml=xml)

    assert read("/order/@id") == "1001"
    assert read("/order/lines/line/1/@sku") == "SKU-00001"
    assert read("/order/shipping/country/#text") == "Germany"
    assert read("/order/lines") is None  # not a scalar
    assert read("xpath:/order/number") == "SO-1001"
    assert read("X-Event-Id") == "from-a-header"


def test_an_xpath_finds_nothing_in_a_body_that_is_not_xml() -> None:
    body = b'{"order": {"id": "7"}}'

    assert extract("xpath:/order/id", HEADERS, body, json_loader(body)) is None
    assert extract("/order/id", HEADERS, body, json_loader(body)) == "7"


def test_an_xpath_that_cannot_be_evaluated_on_the_document_is_an_extract_error() -> None:
    xml = parse_xml(INVOICE)

    with pytest.raises(ExtractError, match="cannot be evaluated on this document"):
        extract("xpath:/x:Invoice", HEADERS, INVOICE, lambda: xml.view, xml=xml)


def test_an_xpath_value_is_held_to_the_same_length_as_any_other() -> None:
    body = b"<r><id>" + b"7" * 513 + b"</id></r>"
    xml = parse_xml(body)

    with pytest.raises(ExtractError, match="longer than 512"):
        extract("xpath:/r/id", HEADERS, body, lambda: xml.view, xml=xml)
