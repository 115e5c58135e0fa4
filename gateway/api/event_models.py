"""Bodies of the events endpoints."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from gateway.api.fields import Timestamp
from gateway.api.models import DeliveryOut

__all__ = ["EventDetail", "EventOut", "EventPage", "EventQuery", "NotRouted"]

Limit = Annotated[int, Meta(ge=1, le=1000)]
Text = Annotated[str, Meta(min_length=1, max_length=512)]


class EventQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    source: Text | None = None
    event_type: Annotated[Text, Meta(description="a glob such as orders/*")] | None = None
    external_id: Annotated[Text, Meta(description="the sender's event id")] | None = None
    received_from: Timestamp | None = None
    received_to: Timestamp | None = None
    cursor: Text | None = None
    limit: Limit = 100


class EventOut(msgspec.Struct, kw_only=True):
    id: str
    source: str
    external_id: str
    event_type: str | None
    ordering_key: str | None
    received_at: Timestamp
    content_type: str | None
    size: int
    trace_id: Annotated[
        str | None,
        Meta(description="the event's trace (W3C trace id, hex), when it was traced"),
    ] = None


class EventPage(msgspec.Struct, kw_only=True):
    data: list[EventOut]
    next_cursor: str | None


class NotRouted(msgspec.Struct, kw_only=True):
    """A subscriber the event's source and type selected, whose content filter refused it."""

    subscriber_id: str
    subscriber_name: str
    reason: Annotated[
        str, Meta(description="e.g. filter: shipping_address.country_code $in [DE, AT]: was FR")
    ]


class EventDetail(EventOut, kw_only=True):
    headers: dict[str, str]
    body_json: Annotated[
        Any,
        Meta(
            description="the body if it is JSON, or the JSON view of an XML body; privacy"
            " rules applied"
        ),
    ] = None
    body_text: Annotated[
        str | None,
        Meta(description="the body if it is other text, or XML (when no privacy rule applies)"),
    ] = None
    deliveries: list[DeliveryOut]
    not_routed: Annotated[
        list[NotRouted],
        Meta(description="subscribers its source and type selected but whose filter refused it"),
    ] = []
