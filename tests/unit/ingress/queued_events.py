"""Events as the ingress hands them to the writer, for tests of the writer alone."""

from __future__ import annotations

from gateway.store.records import IngestEvent


def queued_event(n: int) -> IngestEvent:
    """The n-th event of a test: id ``evt_{n}``, external id ``ext-{n}``."""
    return IngestEvent(
        id=f"evt_{n}",
        source="shop",
        external_id=f"ext-{n}",
        event_type=None,
        ordering_key=None,
        content_type="application/json",
        headers_json="{}",
        body=b"{}",
    )
