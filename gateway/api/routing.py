"""Why an event did not reach a subscriber that its source and type selected: the
subscriber's content filter, explained (the API's event and the console's event page)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.api.event_models import NotRouted
from gateway.domain.document import shown_document
from gateway.domain.filters import explain, filter_document, parse_filter
from gateway.store import events as store
from gateway.store.database import Database
from gateway.store.records import Event

__all__ = ["not_routed"]


async def not_routed(
    db: Database, event: Event, rules: Iterable[str], shown_headers: Mapping[str, str]
) -> list[NotRouted]:
    """Each subscriber whose filter refuses ``event``, with why; the values an explanation
    quotes come from the body with the privacy ``rules`` applied and ``shown_headers``."""
    filtered = await store.filtered_subscribers(db, event.id)
    if not filtered:
        return []
    document = filter_document(event)
    shown = shown_document(document, shown_headers, rules)
    refused = []
    for sub in filtered:
        node = parse_filter(sub.filter)
        reason = None if node is None else explain(node, document, shown)
        if reason is not None:  # else the filter was changed since and takes it now
            refused.append(NotRouted(subscriber_id=sub.id, subscriber_name=sub.name, reason=reason))
    return refused
