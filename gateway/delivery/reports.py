"""What a settled batch tells about subscribers and deliveries, as operational events
(gateway/domain/operational.py): a subscriber disabled, a circuit opened or closed, a
delivery given up on.

Each comes from the transaction that made the change (its :class:`SettleReport`, whose
time is the change's), so it is told once, by the replica that made it. A delivery of
an event of the source ``gateway`` that goes dead is not told: that would be an event
about an event about itself, and a failing subscriber of ``gateway`` would feed itself.
Its subscriber's disabling, and its circuit, are told (once per change, which the
circuit's cool-down and the disabling itself bound).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping
from datetime import datetime

from gateway.domain.operational import GATEWAY_SOURCE, Emit, Kind, OperationalEvent, stamp
from gateway.store.records import AttemptResult, ClaimedDelivery, SettleReport

__all__ = ["Reports"]

log = logging.getLogger("gateway.operational")

MAX_DYING = 10_000  # deliveries settled as dead whose settlement has not come back yet


class Reports:
    """Turns the settler's reports into operational events, handed to ``emit``."""

    def __init__(self, emit: Emit, names: Mapping[str, str]) -> None:
        self.emit = emit
        self.names = names  # subscriber id -> name, as the dispatcher knows them
        self._dying: collections.OrderedDict[str, dict[str, object]] = collections.OrderedDict()

    def dying(self, claimed: ClaimedDelivery, result: AttemptResult) -> None:
        """``claimed`` is settled as dead with ``result``: told once its settlement is
        written (a lease lost meanwhile never is)."""
        if claimed.source == GATEWAY_SOURCE:
            return
        self._dying[claimed.id] = {
            "delivery_id": claimed.id,
            "event_id": claimed.event_id,
            "source": claimed.source,
            "event_type": claimed.event_type,
            "subscriber": _subscriber(claimed.subscriber_id, claimed.subscriber_name),
            "attempts": claimed.total_attempts,
            # Not the attempt's error text: a client library's may quote the URL, and
            # these events go to third parties (a chat, a pager).
            "last_attempt": {"outcome": result.outcome, "status_code": result.status_code},
        }
        while len(self._dying) > MAX_DYING:
            self._dying.popitem(last=False)

    def settled(self, report: SettleReport) -> None:
        """Tell of what ``report`` changed; never raises (the settler must go on)."""
        try:
            self._settled(report)
        except Exception:
            log.exception("operational events of a settlement not told")

    def _settled(self, report: SettleReport) -> None:
        at = report.at
        for delivery_id in report.dead:
            data = self._dying.pop(delivery_id, None)
            if data is not None and at is not None:
                self.emit(OperationalEvent("delivery.dead", delivery_id, at, data))
        if at is None:
            return
        since = {i: stamp(t) for i, t in report.failing_since.items()}
        for subscriber_id, reason in report.disabled.items():
            self._subscriber(
                "subscriber.disabled",
                subscriber_id,
                at,
                reason=reason,
                failing_since=since.get(subscriber_id),
            )
        for subscriber_id in report.opened:
            failing = since.get(subscriber_id)
            self._subscriber("subscriber.circuit_opened", subscriber_id, at, failing_since=failing)
        for subscriber_id in report.closed:
            self._subscriber("subscriber.circuit_closed", subscriber_id, at)

    def _subscriber(self, kind: Kind, subscriber_id: str, at: datetime, **more: object) -> None:
        name = self.names.get(subscriber_id, subscriber_id)
        data = {"subscriber": _subscriber(subscriber_id, name), **more}
        self.emit(OperationalEvent(kind, subscriber_id, at, data))


def _subscriber(subscriber_id: str, name: str) -> dict[str, str]:
    return {"id": subscriber_id, "name": name}
