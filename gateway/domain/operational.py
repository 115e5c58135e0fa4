"""Operational events: what the gateway tells about itself, as events of its own source.

The built-in source :data:`GATEWAY_SOURCE` takes no webhooks; the gateway stores its own
events there, and subscribers take them as they take any source's (retries, signatures,
filters, transforms), but only when they name it in ``sources``: a subscriber of every
source does not start receiving them.

Each event stands for one change of state, and its key (the stored event's external id)
is derived from that change, so two replicas that notice the same change store it once
(the events' unique index drops the second copy). The body is Standard-Webhooks-like::

    {"type": "subscriber.disabled", "timestamp": "2026-05-01T10:00:00Z", "data": {...}}

``data`` holds ids, names, reasons, counts and times, and links into the console when a
base URL is configured; never a secret, a URL (a subscriber's may carry a credential),
a signature or an event's body.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, Literal, get_args

import orjson

__all__ = [
    "GATEWAY_SOURCE",
    "KINDS",
    "Emit",
    "Kind",
    "OperationalEvent",
    "body_of",
    "crossings",
    "drop",
    "stamp",
    "takes_source",
]

GATEWAY_SOURCE: Final = "gateway"
"""The built-in source of operational events (no config or API source may take it)."""

Kind = Literal[
    "subscriber.disabled",
    "subscriber.circuit_opened",
    "subscriber.circuit_closed",
    "delivery.dead",
    "source.signature_failures_spiking",
    "source.signature_failures_recovered",
    "backlog.growing",
    "backlog.recovered",
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)


@dataclasses.dataclass(frozen=True, slots=True)
class OperationalEvent:
    """One change of state. ``subject`` is what changed (a subscriber's, a delivery's or
    a source's id or name) and ``at`` when: together with the kind they are the event's
    key, the same in every replica that sees the change."""

    kind: Kind
    subject: str
    at: datetime
    data: Mapping[str, object]

    @property
    def key(self) -> str:
        """The stored event's external id: ``<kind>:<subject>:<at>``."""
        return f"{self.kind}:{self.subject}:{stamp(self.at)}"


Emit = Callable[[OperationalEvent], None]
"""Hands an event on to be stored; returns at once and never raises (best effort: the
path that noticed a change must not wait for, or fail with, its report)."""


def takes_source(sources: Sequence[str], source: str) -> bool:
    """Whether a subscriber of ``sources`` takes ``source``'s events: those it names, or
    when it names none, every source's but the gateway's own (in SQL:
    ``gateway_takes_source``, migration 0016)."""
    return source in sources if sources else source != GATEWAY_SOURCE


def crossings(
    values: Mapping[str, int], active: Iterable[str], threshold: int
) -> tuple[set[str], set[str]]:
    """The subjects whose condition starts (a value at ``threshold`` or above, not yet on)
    and those whose condition ends (on, and the value below half the threshold: a value
    hovering at the threshold does not turn it on and off at every check)."""
    on = set(active)
    starts = {s for s, v in values.items() if v >= threshold and s not in on}
    ends = {s for s in on if values.get(s, 0) * 2 < threshold}
    return starts, ends


def drop(_: OperationalEvent) -> None:
    """An :data:`Emit` that stores nothing (operational events are off, or in tests)."""


def stamp(at: datetime) -> str:
    """``at`` in UTC, ISO 8601 to the microsecond, ``Z``-suffixed (one spelling per
    instant, so every replica derives the same key)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def body_of(event: OperationalEvent, console_url: str | None = None) -> bytes:
    """The event's JSON body; with a ``console_url``, ``data.links`` points into the
    console at what the event is about."""
    data = dict(event.data)
    if console_url:
        links = _links(console_url.rstrip("/"), data)
        if links:
            data["links"] = links
    return orjson.dumps({"type": event.kind, "timestamp": stamp(event.at), "data": data})


def _links(base: str, data: Mapping[str, object]) -> dict[str, str]:
    links: dict[str, str] = {}
    subscriber = data.get("subscriber")
    if isinstance(subscriber, Mapping) and subscriber.get("id"):
        links["subscriber"] = f"{base}/console/subscribers/{subscriber['id']}"
    event_id = data.get("event_id")
    if isinstance(event_id, str):
        links["event"] = f"{base}/console/events/{event_id}"
    if data.get("source") is not None:
        links["sources"] = f"{base}/console/sources"
    return links
