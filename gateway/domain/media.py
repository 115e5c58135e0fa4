"""Media types: what a ``Content-Type`` names, and which ones are XML."""

from __future__ import annotations

__all__ = ["XML_MEDIA_TYPES", "is_xml", "media_type"]

XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
"""The XML media types by name; any type ending in ``+xml`` is XML too (RFC 7303)."""


def media_type(value: str | None) -> str:
    """The media type of a ``Content-Type`` value: lower case, parameters left off
    (``""`` for none)."""
    return "" if value is None else value.split(";", 1)[0].strip().lower()


def is_xml(content_type: str | None) -> bool:
    """Whether a body of this ``Content-Type`` is XML: ``application/xml``, ``text/xml``,
    or a type with the ``+xml`` suffix (``application/soap+xml``)."""
    kind = media_type(content_type)
    return kind in XML_MEDIA_TYPES or kind.endswith("+xml")
