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

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

from gateway.domain.privacy import hide_headers

__all__ = ["StoredEvent", "body_json", "event_document"]


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


def body_json(body: bytes, body_view: Any = None) -> Any:
    """The body as JSON: ``body_view`` when the event has one (an XML body), else the
    body parsed as JSON, else ``None``."""
    if body_view is not None:
        return body_view
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def event_document(event: StoredEvent, hidden_headers: Iterable[str] = ()) -> dict[str, Any]:
    """The event's JSON document (see the module's docstring). ``hidden_headers`` are
    more headers to hide (a source's own ``signature_header``)."""
    return {
        "type": event.event_type,
        "source": event.source,
        "id": event.id,
        "headers": hide_headers(event.headers, hidden_headers),
        "body": body_json(event.body, event.body_view),
    }
