"""XML bodies: the hardened parse, and the one JSON view of an XML document.

The parse (:func:`parse_xml`) is libxml2's, through lxml, with everything that reaches
beyond the document turned off: no DTD (a document with a ``DOCTYPE`` is refused when its
declaration starts, before any of it is read, so no entity is ever declared, let alone
expanded), no entities but XML's five and character references, no network, no file,
no XInclude. The size is the body limit's; elements nest at most :data:`MAX_DEPTH` deep,
an attribute's value holds at most :data:`MAX_ATTRIBUTE_CHARS` characters.

The view (:attr:`XmlBody.view`) is what filters, transforms and JSON pointers see of an
XML body, so one language serves JSON and XML::

    <order id="7"><line sku="A"/><line sku="B">2</line><note/></order>

    {"order": {"@id": "7", "line": [{"@sku": "A"}, {"@sku": "B", "#text": "2"}],
               "note": ""}}

- The document is an object with one member, the root element.
- An element with neither attributes nor child elements is its text, a string (``""``
  when empty). Any other is an object: ``"@name"`` for each attribute, one member per
  child element name, and ``"#text"`` for the text directly inside it, if there is any.
- A name that occurs once is its value; a name that occurs more than once among the
  children of one element is an array of their values, in document order.
- Names are as written, with their prefix (``cbc:ID``, ``@xml:lang``); the declarations of
  namespaces are not attributes. Comments and processing instructions are left out;
  CDATA is text.
- Text is trimmed of the white space around it, and white space alone is no text; in
  mixed content the pieces of text are joined by one space.
- Every value is a string: XML has no numbers, and a guess would turn ``"007"`` into 7 or
  a SKU ``"1E5"`` into 100000.0.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, NoReturn

from lxml import etree

__all__ = [
    "DOCTYPE_REFUSED",
    "MAX_ATTRIBUTE_CHARS",
    "MAX_DEPTH",
    "XmlBody",
    "XmlRefused",
    "parse_xml",
]

MAX_DEPTH: Final = 64
"""How deep elements may nest (the root is at depth 1). Data documents go to a dozen."""

MAX_ATTRIBUTE_CHARS: Final = 65536
"""The longest value an attribute may hold; text has no bound but the body's."""

DOCTYPE_REFUSED: Final = (
    "XML with a document type declaration (DOCTYPE) is not accepted; send the document without it"
)
_DEEP: Final = f"the XML nests deeper than {MAX_DEPTH} elements"
_XML_NAMESPACE: Final = "http://www.w3.org/XML/1998/namespace"
_MAX_DETAIL: Final = 200  # characters of libxml2's own message shown to the sender


class XmlRefused(ValueError):
    """The body is not XML the gateway takes; the message says why (the 400's detail)."""


@dataclasses.dataclass(frozen=True, slots=True)
class XmlBody:
    """A parsed XML body: its root element (for XPath) and its JSON view."""

    root: etree._Element
    view: dict[str, Any]


class _Doctype(Exception):
    pass


class _RootReached(Exception):
    pass


class _Prolog:
    """A parser target that reads no further than the root element's start tag, and
    refuses a DOCTYPE the moment it starts: before libxml2 reads its internal subset."""

    def doctype(self, *_: object) -> NoReturn:
        raise _Doctype

    def start(self, *_: object) -> NoReturn:
        raise _RootReached

    def end(self, *_: object) -> None:
        return None

    def data(self, *_: object) -> None:
        return None

    def close(self) -> None:
        return None


def _hardened(**options: Any) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        collect_ids=False,
        **options,
    )


_PROLOG: Final = _hardened(target=_Prolog())
_PARSER: Final = _hardened(remove_comments=True, remove_pis=True)


def parse_xml(body: bytes) -> XmlBody:
    """Parse ``body`` as XML and make its view; :class:`XmlRefused` says why not."""
    _check_prolog(body)
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.LxmlError as exc:
        _refuse(exc)
    if root.getroottree().docinfo.internalDTD is not None:  # the prolog's check stops it first
        raise XmlRefused(DOCTYPE_REFUSED)
    return XmlBody(root, {_name(root): _value(root, 1)})


def _check_prolog(body: bytes) -> None:
    try:
        etree.fromstring(body, _PROLOG)
    except _Doctype:
        raise XmlRefused(DOCTYPE_REFUSED) from None
    except _RootReached:
        return
    except etree.LxmlError as exc:
        _refuse(exc)
    raise XmlRefused("the body holds no XML element")  # pragma: no cover - libxml2 says so


def _refuse(exc: etree.LxmlError) -> NoReturn:
    message = str(getattr(exc, "msg", None) or exc)
    if message.startswith("Excessive depth"):  # libxml2's own bound, 256, above ours
        raise XmlRefused(_DEEP) from None
    raise XmlRefused(f"the body is not well-formed XML: {message[:_MAX_DETAIL]}") from None


def _value(element: etree._Element, depth: int) -> str | dict[str, Any]:
    """The view of ``element`` (see the module's docstring)."""
    if depth > MAX_DEPTH:
        raise XmlRefused(_DEEP)
    attributes = element.attrib
    if not attributes and len(element) == 0:
        text = element.text
        return text.strip() if text else ""
    node: dict[str, Any] = {}
    for name, value in attributes.items():
        if len(value) > MAX_ATTRIBUTE_CHARS:
            raise XmlRefused(
                f"an attribute's value is longer than {MAX_ATTRIBUTE_CHARS} characters"
            )
        node["@" + _attribute_name(str(name), element)] = value
    texts = [element.text] if element.text and not element.text.isspace() else []
    repeated: set[str] = set()
    for child in element:
        if isinstance(child.tag, str):  # comments and PIs are removed; no entity is defined
            name = _name(child)
            view = _value(child, depth + 1)
            if name in repeated:
                node[name].append(view)
            elif name in node:
                node[name] = [node[name], view]
                repeated.add(name)
            else:
                node[name] = view
        if child.tail and not child.tail.isspace():
            texts.append(child.tail)
    if texts:
        node["#text"] = " ".join(text.strip() for text in texts)
    return node


def _name(element: etree._Element) -> str:
    """An element's name as written: ``local`` or ``prefix:local``."""
    tag = str(element.tag)
    if not tag.startswith("{"):
        return tag
    local = tag.partition("}")[2]
    return f"{element.prefix}:{local}" if element.prefix else local


def _attribute_name(name: str, element: etree._Element) -> str:
    """An attribute's name as written: its namespace's prefix in scope, if it has one."""
    if not name.startswith("{"):
        return name
    uri, _, local = name[1:].partition("}")
    if uri == _XML_NAMESPACE:
        return f"xml:{local}"
    prefix = next((p for p, u in element.nsmap.items() if u == uri and p), None)
    return f"{prefix}:{local}" if prefix else local
