"""Frozen records that cross the store boundary; rows never leave ``store/``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from gateway.domain.broker_destination import BrokerDestination
from gateway.domain.subscriber import PayloadMode, SubscriberSettings, SubscriberState
from gateway.domain.transform import Transform

__all__ = [
    "NOT_SENT",
    "SKIPPED_BY_TRANSFORM",
    "TRANSFORM_ERROR",
    "Attempt",
    "AttemptResult",
    "Circuit",
    "CircuitState",
    "ClaimedDelivery",
    "Delivery",
    "DeliveryFilter",
    "Event",
    "EventSummary",
    "FilteredSubscriber",
    "FlowChange",
    "IngestEvent",
    "IngestResult",
    "Job",
    "RevokedToken",
    "SettleReport",
    "Settlement",
    "Subscriber",
    "SubscriberFlow",
    "destination_of",
    "transform_of",
]

TRANSFORM_ERROR = "transform_error"
"""The outcome of an attempt whose transform threw or hit a bound (nothing was sent)."""
SKIPPED_BY_TRANSFORM = "skipped_by_transform"
"""The outcome of an attempt whose transform chose not to send the event: the delivery
ends ``cancelled``, which is no failure."""
NOT_SENT = frozenset({TRANSFORM_ERROR, SKIPPED_BY_TRANSFORM})

DeliveryStatus = Literal["queued", "pending", "in_flight", "succeeded", "dead", "cancelled"]
CircuitState = Literal["closed", "open", "half_open"]
JobKind = Literal["retry_dead", "replay_source"]
JobState = Literal["queued", "running", "succeeded", "failed"]


@functools.cache
def _fields(cls: type) -> tuple[str, ...]:
    """The field names of a record, a dataclass or a msgspec Struct, in order."""
    if issubclass(cls, msgspec.Struct):
        return cls.__struct_fields__
    assert dataclasses.is_dataclass(cls)
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(_fields(cls))


@functools.lru_cache(maxsize=256)
def _missing(cls: type, columns: tuple[str, ...]) -> frozenset[str]:
    return _field_names(cls) - frozenset(columns)


def _from_row(cls: Any, row: Mapping[str, Any]) -> Any:
    """The record of ``row``'s columns that ``cls`` names; other columns are left out.

    A column the record names but the row lacks is an error even when the field has a
    default: a query that names a column otherwise (``circuit_state`` for ``state``)
    would else hand over the default and nobody would notice.
    """
    missing = _missing(cls, tuple(row.keys()))
    if missing:
        raise TypeError(f"{cls.__name__}: the row has no {', '.join(sorted(missing))}")
    names = _field_names(cls)
    return cls(**{k: v for k, v in row.items() if k in names})


@functools.lru_cache(maxsize=256)
def _positions(cls: type, columns: tuple[str, ...]) -> tuple[int, ...]:
    """Where each of ``cls``'s fields is among ``columns``, in the order of the fields."""
    missing = _missing(cls, columns)
    if missing:
        raise TypeError(f"{cls.__name__}: the rows have no {', '.join(sorted(missing))}")
    index = {name: i for i, name in enumerate(columns)}
    return tuple(index[name] for name in _fields(cls))


def _from_rows(cls: Any, rows: Sequence[Any]) -> list[Any]:
    """The records of many rows of one query (asyncpg records: by position and by name),
    with the columns matched to the fields once for them all."""
    if not rows:
        return []
    positions = _positions(cls, tuple(rows[0].keys()))
    if issubclass(cls, msgspec.Struct):  # keyword-only fields
        names = _fields(cls)
        return [cls(**{n: row[i] for n, i in zip(names, positions, strict=True)}) for row in rows]
    return [cls(*[row[i] for i in positions]) for row in rows]


class IngestEvent(msgspec.Struct, frozen=True):
    """An inbound event, verified, waiting to be stored (a Struct: one is made for every
    request, and a traced one is copied with its trace's ids, both a fifth of a frozen
    dataclass's cost).

    With a ``replay_window_seconds`` above 0, an event of its source with the same type
    and body stored less than that long ago makes it a duplicate, whatever its id.
    ``body_view`` is an XML body's JSON view as JSON text (``None`` for other bodies).
    """

    id: str
    source: str
    external_id: str
    event_type: str | None
    ordering_key: str | None
    content_type: str | None
    headers_json: str
    body: bytes
    body_view: str | None = None
    replay_window_seconds: float = 0.0
    trace_id: str | None = None  # a traced event's trace, and its ingest span (hex)
    trace_span_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class IngestResult:
    event_id: str
    duplicate: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    id: str
    source: str
    external_id: str
    event_type: str | None
    ordering_key: str | None
    received_at: datetime
    content_type: str | None
    headers: dict[str, str]
    body: bytes
    body_view: Any  # an XML body's JSON view (None for other bodies)
    trace_id: str | None = None  # the event's trace, when it was traced

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


class Subscriber(SubscriberSettings, frozen=True, kw_only=True):
    """A stored subscriber: its settings, its signing secrets and its state."""

    id: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    state: SubscriberState
    state_reason: str | None
    managed_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Subscriber:
        """The subscriber of a row (its ``transform`` and ``destination``, stored as JSON,
        read back as such)."""
        values = dict(row)
        values["transform"] = transform_of(values.get("transform"))
        values["destination"] = destination_of(values.get("destination"))
        result: Subscriber = _from_row(cls, values)
        return result


def transform_of(stored: Mapping[str, Any] | None) -> Transform | None:
    """A transform as its column holds it (a JSON object), read back (once per version)."""
    if stored is None:
        return None
    known = _TRANSFORMS.get(stored["version"])
    if known is None or known.source != stored["source"] or known.language != stored["language"]:
        known = Transform(language=stored["language"], source=stored["source"])
        if len(_TRANSFORMS) >= 256:
            _TRANSFORMS.clear()
        _TRANSFORMS[known.version] = known
    return known


_TRANSFORMS: dict[str, Transform] = {}  # by version: a claim reads the same few again and again


def destination_of(stored: Mapping[str, Any] | None) -> BrokerDestination | None:
    """A broker destination as its column holds it (a JSON object), read back (once per
    distinct destination)."""
    if stored is None:
        return None
    key = tuple(stored.items())
    known = _DESTINATIONS.get(key)
    if known is None:
        if len(_DESTINATIONS) >= 256:
            _DESTINATIONS.clear()
        known = _DESTINATIONS[key] = msgspec.convert(stored, BrokerDestination)
    return known


_DESTINATIONS: dict[tuple[tuple[str, Any], ...], BrokerDestination] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this process holds the lease on, with all it needs to send it.

    Beside the delivery and its event, the subscriber's settings that sending needs, as
    the claim selects them: named and typed as :class:`SubscriberSettings` names them
    (``subscriber_name`` and ``subscriber_headers`` are its ``name`` and ``headers``);
    a test holds the two together. Flat rather than nested: one record per claimed row.
    """

    id: str
    event_id: str
    subscriber_id: str
    subscriber_name: str
    attempts: int
    total_attempts: int
    source: str
    event_type: str | None
    received_at: datetime
    content_type: str | None
    body: bytes
    url: str | None
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    subscriber_headers: dict[str, str]
    timeout_seconds: float | None
    max_attempts: int | None
    backoff_base_seconds: float | None
    backoff_cap_seconds: float | None
    external_id: str = ""
    event_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    enqueued_at: datetime | None = None
    ordering_key: str | None = None
    https_only: bool = False
    forward_headers: list[str] | None = None
    retry_schedule: list[float] | None = None
    max_age_seconds: float | None = None
    payload_mode: PayloadMode = "full"
    thin_above_bytes: int | None = None
    transform: Transform | None = None
    body_view: Any = None  # an XML body's JSON view, claimed for a transform or a broker
    destination: BrokerDestination | None = None
    """A broker to deliver into instead of ``url``."""
    proxy: str | None = None
    tls: str | None = None
    due_at: datetime | None = None  # when the attempt was due (its claim wait began)
    trace_id: str | None = None  # a traced event's trace and ingest span (hex)
    trace_span_id: str | None = None
    send_traceparent: bool = True

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt produced (over HTTP or into a broker)."""

    started_at: datetime
    duration_ms: float
    outcome: str  # success | http_error | timeout | connection_error | blocked | redirect
    # | tls_error (a TLS handshake that failed: the certificate, the version)
    # | broker_nack | unroutable | broker_error (a broker's answers)
    # | transform_error | skipped_by_transform (nothing sent: see ``sent``)
    status_code: int | None = None
    error: str | None = None
    response_snippet: str | None = None
    retry_after_seconds: float | None = None
    transform_version: str | None = None
    """The version of the subscriber's transform the attempt ran (None: it has none)."""
    request_url: str | None = None
    """With a transform: the request made (its URL, body size and content type)."""
    request_bytes: int | None = None
    request_content_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    @property
    def sent(self) -> bool:
        """Whether a request went out: the subscriber's health counts only those."""
        return self.outcome not in NOT_SENT


@dataclasses.dataclass(frozen=True, slots=True)
class Settlement:
    """How a claimed delivery ends this round: its attempt and its next state."""

    delivery_id: str
    lease_token: str
    attempt: int
    result: AttemptResult
    status: DeliveryStatus
    next_attempt_at: datetime | None
    throttle_until: datetime | None = None
    """The subscriber asked (Retry-After on 429/503) for nothing before this time."""
    gone: bool = False
    """The subscriber answered ``410 Gone``: it is to be disabled."""


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    response_snippet: str | None
    transform_version: str | None = None
    request_url: str | None = None
    request_bytes: int | None = None
    request_content_type: str | None = None

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    event_id: str
    subscriber_id: str
    subscriber_name: str
    source: str
    event_type: str | None
    status: DeliveryStatus
    attempts: int
    total_attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    ordering_key: str | None = None
    enqueued_at: datetime | None = None

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class EventSummary:
    """An event without its body (lists and search)."""

    id: str
    source: str
    external_id: str
    event_type: str | None
    ordering_key: str | None
    received_at: datetime
    content_type: str | None
    size: int
    trace_id: str | None  # the event's trace, when it was traced

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class FilteredSubscriber:
    """A subscriber whose content filter an event did not pass."""

    id: str
    name: str
    filter: dict[str, Any]

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class Circuit:
    """A subscriber's circuit breaker and failure record, shared by every replica."""

    state: CircuitState = "closed"
    opened_at: datetime | None = None
    open_until: datetime | None = None
    probe_until: datetime | None = None
    consecutive_failures: int = 0
    window_started_at: datetime | None = None
    window_attempts: int = 0
    window_failures: int = 0
    failing_since: datetime | None = None
    throttled_until: datetime | None = None

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class FlowChange:
    """What the settler decided for one subscriber after a batch of its attempts."""

    circuit: Circuit
    disable_reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriberFlow:
    """A subscriber's live flow state, as the admin API shows it."""

    subscriber_id: str
    in_flight: int
    circuit_state: CircuitState
    open_until: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    throttled_until: datetime | None

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class SettleReport:
    """What one settled batch changed beyond the deliveries themselves.

    ``disabled`` holds the subscribers this batch disabled (not those already disabled),
    with the reason; ``opened`` and ``closed`` the subscribers whose circuit it opened
    (from closed) or closed; ``dead`` the deliveries it gave up on; ``at`` is the
    database's time of the batch, the time of each of these changes.
    """

    finished: frozenset[str] = frozenset()
    promoted: int = 0
    circuits: Mapping[str, CircuitState] = dataclasses.field(default_factory=dict)
    disabled: Mapping[str, str] = dataclasses.field(default_factory=dict)
    opened: frozenset[str] = frozenset()
    closed: frozenset[str] = frozenset()
    dead: frozenset[str] = frozenset()
    at: datetime | None = None
    failing_since: Mapping[str, datetime] = dataclasses.field(default_factory=dict)
    """Of the subscribers disabled or whose circuit opened: since when they fail."""


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries a list or a bulk retry means; ``None`` leaves a field open."""

    status: str | None = None
    subscriber_id: str | None = None
    event_id: str | None = None
    source: str | None = None
    event_type_like: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """A background job (bulk retry, replay) and how far it has come."""

    id: str
    kind: JobKind
    params: dict[str, Any]
    state: JobState
    total: int | None
    done: int
    cursor: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)


@dataclasses.dataclass(frozen=True, slots=True)
class RevokedToken:
    """An API token refused before its expiry; ``expires_at`` None: kept for ever."""

    jti: str
    revoked_at: datetime
    expires_at: datetime | None
    reason: str | None
    revoked_by: str

    from_row = classmethod(_from_row)
    from_rows = classmethod(_from_rows)
