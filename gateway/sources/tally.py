"""What a reader records of its queue and its messages: in its status (``/readyz``, the
API, the console), in the metrics, and, for what an operator must see, in the log.

A poison message's log line names the source, the queue, the message's id and why; the
status keeps the most recent ones. Nothing recorded holds a broker's credentials: the
reasons are the gateway's own words, or the broker's answer, which names no password.
"""

from __future__ import annotations

import contextlib
import logging
import time

from prometheus_client import Counter, Gauge

from gateway.domain.receive import Poison, ReaderState, ReaderStatus, Receive
from gateway.observability import Metrics
from gateway.store.records import IngestResult

__all__ = ["KEPT_POISON", "Tally"]

log = logging.getLogger("gateway.sources")

KEPT_POISON = 20
"""Poison messages a status keeps, the most recent."""


class Tally:
    """One reader's status and metrics."""

    def __init__(self, source: str, receive: Receive, metrics: Metrics) -> None:
        self.source = source
        self.status = ReaderStatus(
            kind=receive.kind, broker=receive.broker, queue=receive.queue_name, since=time.time()
        )
        self._metrics = metrics
        self._up: Gauge = metrics.source_up.labels(source, receive.kind)
        self._in_flight: Gauge = metrics.source_in_flight.labels(source)
        self._counts: dict[str, Counter] = {
            outcome: metrics.source_messages.labels(source, outcome)
            for outcome in ("received", "stored", "duplicate", "not_stored", "poison")
        }

    def reading(self) -> None:
        """The queue answers."""
        if self.status.state != "reading":
            if self.status.state == "unreachable":
                log.info("source %s: reading %s again", self.source, self.status.queue)
            self._state("reading", None)
        self._up.set(1)

    def unreachable(self, error: str) -> None:
        """The queue cannot be reached (or read): ``error`` says why."""
        if self.status.state != "unreachable" or self.status.error != error:
            log.warning("source %s: cannot read %s: %s", self.source, self.status.queue, error)
            self._state("unreachable", error)
        self._up.set(0)

    def stopped(self) -> None:
        self._state("stopped", None)
        self._up.set(0)
        self.holding(-self.status.in_flight)

    def forget(self) -> None:
        """The source is no longer read here (removed, or reading another queue): its
        gauges go, so that no alert waits on a queue nobody should read."""
        with contextlib.suppress(KeyError):
            self._metrics.source_up.remove(self.source, self.status.kind)
        with contextlib.suppress(KeyError):
            self._metrics.source_in_flight.remove(self.source)

    def holding(self, change: int) -> None:
        """``change`` more messages in hand (fewer when negative)."""
        self.status.in_flight += change
        self._in_flight.set(self.status.in_flight)

    def received(self, count: int) -> None:
        self.status.received += count
        self._counts["received"].inc(count)

    def stored(self, result: IngestResult) -> None:
        if result.duplicate:
            self.status.duplicates += 1
            self._counts["duplicate"].inc()
        else:
            self.status.stored += 1
            self._counts["stored"].inc()

    def not_stored(self, message_id: str | None, reason: str) -> None:
        """The message could not be stored now; it is left to come back."""
        self.status.not_stored += 1
        self._counts["not_stored"].inc()
        log.warning(
            "source %s: message %s not stored, left on the queue to come back: %s",
            self.source,
            message_id or "(no id)",
            reason,
        )

    def poisoned(self, message_id: str | None, reason: str) -> None:
        """The message can never be stored as it is; it is left to the queue's policy."""
        shown = message_id or "(no id)"
        self.status.poison += 1
        self._counts["poison"].inc()
        kept = self.status.recent_poison
        kept.append(Poison(message_id=shown, reason=reason, at=time.time()))
        del kept[:-KEPT_POISON]
        log.error(
            "source %s: poison message %s on %s, left to the queue's dead-letter policy: %s",
            self.source,
            shown,
            self.status.queue,
            reason,
        )

    def _state(self, state: ReaderState, error: str | None) -> None:
        self.status.state = state
        self.status.error = error
        self.status.since = time.time()
