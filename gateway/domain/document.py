"""The JSON document of a stored event: what filters, their explanations and transforms
read, one shape for every event whatever its body came as::

    {"type": "orders/create", "source": "shop", "id": "evt_…",
     "headers": {"content-type": "application/json", "x-shopify-hmac-sha256": "[hidden]"},
     "body": {...}}

``body`` is the body as JSON: the parsed JSON of a JSON body, the JSON view of an XML
body (gateway/domain/xmlview.py), ``null`` when the body is neither. ``headers`` are the
headers as stored (lower-case names), every secret one's value hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import orjson

from gateway.domain.privacy import hide_headers, redact_document

__all__ = ["StoredEvent", "body_json", "event_document", "shown_document"]


class StoredEvent(Protocol):
    """What the document is made of: a stored event (``gateway.store.records.Event``)."""

    @property
    def id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def event_type(self) -> str | None: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def body_view(self) -> Any: ...


def _read_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or ``None`` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def body_json(
    body: bytes, body_view: Any = None, *, read: Callable[[bytes], Any] = _read_json
) -> Any:
    """The body as JSON: ``body_view`` when the event has one (an XML body), else the
    body as ``read`` parses it (JSON, or ``None``)."""
    return body_view if body_view is not None else read(body)


def event_document(
    event: StoredEvent,
    hidden_headers: Iterable[str] = (),
    *,
    read: Callable[[bytes], Any] = _read_json,
) -> dict[str, Any]:
    """The event's JSON document (see the module's docstring). ``hidden_headers`` are
    more headers to hide (a source's own ``signature_header``); ``read`` parses a body
    that has no view (filters read numbers exactly, as PostgreSQL does)."""
    return {
        "type": event.event_type,
        "source": event.source,
        "id": event.id,
        "headers": hide_headers(event.headers, hidden_headers),
        "body": body_json(event.body, event.body_view, read=read),
    }


def shown_document(
    document: Mapping[str, Any], headers: Mapping[str, str], rules: Iterable[str]
) -> dict[str, Any]:
    """``document`` as the API shows its event: ``headers`` as shown (secret ones hidden,
    the source's own too), the body with the privacy ``rules`` applied."""
    return {**document, "headers": dict(headers), "body": redact_document(document["body"], rules)}
