"""A claimed delivery through its subscriber's transform: what to send, or why not.

The transform reads the event's JSON document (``gateway.domain.document``) and a
context that holds no clock of its own: the subscriber's name and when the event was
received. The same event and transform give the same answer on every attempt; so a
transform that fails is not retried (the delivery goes to the dead letters, and a retry
after the transform is fixed sends it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from gateway.delivery.transforms import Cancel, Failure, Reshaped, TransformEngine, Unparsed
from gateway.domain.document import event_document
from gateway.store.records import (
    SKIPPED_BY_TRANSFORM,
    TRANSFORM_ERROR,
    AttemptResult,
    ClaimedDelivery,
)

__all__ = ["document_of", "transform_claimed"]


class _ClaimedEvent(NamedTuple):
    """The claimed delivery's event, as ``event_document`` reads one."""

    id: str
    source: str
    event_type: str | None
    headers: Mapping[str, str]
    body: bytes
    body_view: Any


def document_of(claimed: ClaimedDelivery) -> dict[str, Any]:
    """The JSON document of the claimed delivery's event, its body left for the engine's
    worker to read (:class:`~gateway.delivery.transforms.Unparsed`) unless it has a view
    (an XML body)."""
    event = _ClaimedEvent(
        claimed.event_id,
        claimed.source,
        claimed.event_type,
        claimed.event_headers,
        claimed.body,
        claimed.body_view,
    )
    return event_document(event, read=Unparsed)


def context_of(claimed: ClaimedDelivery) -> dict[str, Any]:
    """The transform's second argument: no clock of its own, the event's time instead (in
    UTC; orjson writes it in ISO 8601, as ``isoformat`` does)."""
    return {
        "subscriber": claimed.subscriber_name,
        "received_at": claimed.received_at.astimezone(UTC),
    }


async def transform_claimed(
    engine: TransformEngine, claimed: ClaimedDelivery
) -> Reshaped | AttemptResult:
    """The request to send, or the attempt's result when nothing is to be sent: the
    transform failed (``transform_error``) or skipped the event (``skipped_by_transform``).
    """
    assert claimed.transform is not None
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    error: str | None = None
    try:
        answer = await engine.apply(
            claimed.transform,
            document_of(claimed),
            context_of(claimed),
            queue=claimed.subscriber_id,
        )
    except Failure as failure:
        outcome, error = TRANSFORM_ERROR, failure.describe()
    else:
        if isinstance(answer, Reshaped):
            return answer
        assert isinstance(answer, Cancel)
        outcome, error = SKIPPED_BY_TRANSFORM, None
    return AttemptResult(
        started_at=started_at,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=outcome,
        error=error,
        transform_version=claimed.transform.version,
    )
