"""Events as the ingress hands them to the writer, for tests of the writer alone."""

from __future__ import annotations

from gateway.store.records import IngestEvent
from testkit.factories import event


def queued_event(n: int) -> IngestEvent:
    """The n-th event of a test: id ``evt_{n}``, external id ``ext-{n}``."""
    return event(f"ext-{n}", event_type=None, id=f"evt_{n}", body=b"{}", headers={})
