"""Request and response bodies of the admin API: typed, validated by msgspec."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from gateway.api.fields import Timestamp
from gateway.domain.subscriber import Glob, SourceName, SubscriberSettings, SubscriberState
from gateway.domain.validation import describe
from gateway.http.problems import Problem

__all__ = [
    "AttemptOut",
    "DeliveryDetail",
    "DeliveryFilterIn",
    "DeliveryOut",
    "EventReplayIn",
    "EventReplayed",
    "FlowOut",
    "JobAccepted",
    "JobOut",
    "Page",
    "PauseIn",
    "SecretRotated",
    "SecretRotationIn",
    "SourceReplayIn",
    "SubscriberCreated",
    "SubscriberIn",
    "SubscriberOut",
    "SubscriberPatch",
    "decode_body",
    "invalid",
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SubscriberIn(SubscriberSettings, frozen=True, kw_only=True):
    """A subscriber to register: its settings. Its signing secret is made by the gateway."""


SubscriberPatch = msgspec.defstruct(
    "SubscriberPatch",
    [
        (f.name, f.type | msgspec.UnsetType, msgspec.UNSET)
        for f in msgspec.structs.fields(SubscriberSettings)
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
"""What a PATCH changes: any of the settings; those left out keep their value."""


class SubscriberOut(SubscriberSettings, frozen=True, kw_only=True):
    """A subscriber as the API shows it: its settings (secret headers hidden), its state."""

    id: str
    state: SubscriberState
    state_reason: str | None
    managed_by: str
    created_at: Timestamp
    updated_at: Timestamp
    previous_secret_expires_at: Timestamp | None = None
    flow: FlowOut | None = None


class SubscriberCreated(SubscriberOut, frozen=True, kw_only=True):
    secret: str


class AttemptOut(msgspec.Struct, kw_only=True):
    attempt: int
    started_at: Timestamp
    duration_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    response_snippet: str | None
    transform_version: str | None = None
    """The version of the subscriber's transform the attempt ran (null: it has none)."""
    request_url: str | None = None
    """With a transform, the request it made: its URL, body size and content type."""
    request_bytes: int | None = None
    request_content_type: str | None = None


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: str
    event_id: str
    subscriber_id: str
    subscriber_name: str
    source: str
    event_type: str | None
    status: str
    attempts: int
    total_attempts: int
    next_attempt_at: Timestamp
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    ordering_key: str | None = None
    enqueued_at: Timestamp | None = None


class DeliveryDetail(DeliveryOut, kw_only=True):
    attempt_log: list[AttemptOut]


class Page(msgspec.Struct, kw_only=True):
    data: list[Any]
    next_cursor: str | None


T = TypeVar("T")


def decode_body(raw: bytes, model: type[T]) -> T:
    """Decode a JSON request body into ``model``; a 422 problem names the failing field."""
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        raise invalid(*describe(exc)) from None
    except msgspec.DecodeError:
        raise Problem(400, "the body is not valid JSON", kind="invalid-json") from None


def invalid(field: str, reason: str) -> Problem:
    """The 422 problem for a refused body: where (``field``) and why."""
    errors = [{"field": field, "message": reason}]
    return Problem(422, f"{field or 'body'}: {reason}", kind="validation", errors=errors)


# Delivery engine: flow state, pause, secret rotation, dead letters, replay and jobs.


class FlowOut(msgspec.Struct, kw_only=True):
    """A subscriber's live delivery state, shared by every replica."""

    in_flight: int
    circuit_state: Literal["closed", "open", "half_open"]
    circuit_open_until: Timestamp | None
    consecutive_failures: int
    failing_since: Timestamp | None
    throttled_until: Timestamp | None


class PauseIn(_In):
    reason: Annotated[str, Meta(max_length=500)] | None = None


class SecretRotationIn(_In):
    """How long the current secret keeps signing beside the new one (default 24 h)."""

    previous_expires_in_seconds: Annotated[float, Meta(ge=0, le=30 * 86400)] | None = None
    previous_expires_at: Timestamp | None = None


class SecretRotated(msgspec.Struct, kw_only=True):
    subscriber_id: str
    secret: str
    previous_secret_expires_at: Timestamp | None


class DeliveryFilterIn(_In):
    """Which dead letters a bulk retry takes; every field narrows, none means all."""

    subscriber_id: str | None = None
    source: SourceName | None = None
    event_type: Glob | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None


class JobOut(msgspec.Struct, kw_only=True):
    id: str
    kind: Literal["retry_dead", "replay_source"]
    state: Literal["queued", "running", "succeeded", "failed"]
    params: dict[str, Any]
    total: int | None
    done: int
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    updated_at: Timestamp


class JobAccepted(msgspec.Struct, kw_only=True):
    job_id: str
    status_url: str


class EventReplayIn(_In):
    """Replay to one subscriber; without one, to all the event's subscribers."""

    subscriber_id: str | None = None


class EventReplayed(msgspec.Struct, kw_only=True):
    event_id: str
    delivery_ids: list[str]


class SourceReplayIn(_In):
    """Replay a source's events received in [since, until) to one subscriber (a job)."""

    source: SourceName
    subscriber_id: str
    since: Timestamp | None = None
    until: Timestamp | None = None


Limit = Annotated[int, Meta(ge=1, le=1000)]
Cursor = Annotated[str, Meta(min_length=1, max_length=200)]


class PageQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cursor: Cursor | None = None
    limit: Limit = 100


class DeliveryQuery(PageQuery, kw_only=True, forbid_unknown_fields=True):
    status: Literal["queued", "pending", "in_flight", "succeeded", "dead", "cancelled"] | None = (
        None
    )
    subscriber_id: Cursor | None = None
    event_id: Cursor | None = None
    source: Cursor | None = None
    event_type: Annotated[str, Meta(min_length=1, max_length=200, description="a glob")] | None = (
        None
    )
    since: Timestamp | None = None
    until: Timestamp | None = None


class SubscriberPage(msgspec.Struct, kw_only=True):
    data: list[SubscriberOut]
    next_cursor: str | None


class DeliveryPage(msgspec.Struct, kw_only=True):
    data: list[DeliveryOut]
    next_cursor: str | None


class JobPage(msgspec.Struct, kw_only=True):
    data: list[JobOut]
    next_cursor: str | None


class PingResult(msgspec.Struct, kw_only=True):
    """How a test event fared: nothing is stored, nothing retried."""

    ok: bool
    outcome: str
    status_code: int | None
    duration_ms: float
    error: str | None
    response_snippet: str | None
