"""Where a source reads its events from when it takes no webhooks: a queue of a broker.

``SourceConfig.receive`` is one of these, tagged by ``kind``: an Amazon SQS queue or a
RabbitMQ (AMQP 0-9-1) queue, each on a broker the config file declares in ``[[brokers]]``
(whose kind must match, checked where the broker list is known: the config file and the
API). The queue is the operator's own: the gateway reads it and never creates it.

:class:`ReaderStatus` is what one process knows of its reader of a source: shown by
``/readyz``, the API and the console.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from gateway.domain.broker_destination import BrokerKind, BrokerName
from gateway.domain.tagged import Tagged
from gateway.domain.validation import Invalid

__all__ = [
    "AmqpReceive",
    "Poison",
    "ReaderState",
    "ReaderStatus",
    "Receive",
    "SqsReceive",
]


class _Receive(Tagged[BrokerKind], frozen=True):
    broker: BrokerName  # of the queue's kind


class SqsReceive(_Receive, frozen=True, tag="sqs"):
    """An SQS queue, long-polled: at most ``max_in_flight`` messages in hand at once, each
    deleted only once its event is committed. ``visibility_timeout_seconds`` overrides the
    queue's own for the messages received (how soon one not stored comes back)."""

    queue_url: Annotated[str, Meta(min_length=8, max_length=2048)]
    max_in_flight: Annotated[int, Meta(ge=1, le=1000)] = 10
    wait_seconds: Annotated[int, Meta(ge=0, le=20)] = 20
    visibility_timeout_seconds: Annotated[int, Meta(ge=0, le=43_200)] | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.queue_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise Invalid("queue_url", "must be the queue's https:// URL")

    @property
    def queue_name(self) -> str:
        """The queue as the operator wrote it: its URL."""
        return self.queue_url


class AmqpReceive(_Receive, frozen=True, tag="amqp"):
    """A RabbitMQ queue, consumed with manual acknowledgements: at most ``prefetch``
    messages unacknowledged, each acknowledged only once its event is committed."""

    queue: Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
    prefetch: Annotated[int, Meta(ge=1, le=10_000)] = 10

    @property
    def queue_name(self) -> str:
        """The queue as the operator wrote it: its name."""
        return self.queue


Receive = SqsReceive | AmqpReceive

ReaderState = Literal["starting", "reading", "unreachable", "stopped"]


class Poison(msgspec.Struct, frozen=True, kw_only=True):
    """A message that can never be stored as it is, and why; left on the queue."""

    message_id: str
    reason: str
    at: float  # unix seconds


class ReaderStatus(msgspec.Struct, kw_only=True):
    """One process's reader of one source: whether it reaches its queue, and its counts
    since the process started."""

    kind: BrokerKind
    broker: str
    queue: str
    state: ReaderState = "starting"
    error: str | None = None
    since: float = 0.0  # unix seconds: when ``state`` began
    in_flight: int = 0
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    not_stored: int = 0  # could not be stored now: left to come back
    poison: int = 0
    recent_poison: list[Poison] = msgspec.field(default_factory=list)
