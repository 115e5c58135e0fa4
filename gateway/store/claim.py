"""The claim: lease due deliveries within every subscriber's limits, in one statement.

``claim_deliveries`` (queries.sql) is one ``WITH ... UPDATE ... RETURNING`` statement:

1. **candidates**: the subscribers that may be sent to now -- active, below
   ``max_in_flight``, with a token in their bucket, not paused by a Retry-After, circuit
   closed (or open past its cool-down, or half-open with no probe out) -- and that have
   something due. "Something due" is one probe of the partial index
   ``deliveries_due_idx (subscriber_id, next_attempt_at) WHERE status = 'pending'``
   (``ORDER BY ... LIMIT 1`` in a lateral: one index descent, never a scan). At most
   ``batch`` of them, those whose oldest due delivery is oldest.
2. **ready**: their ``subscriber_flow`` rows, locked ``FOR UPDATE`` in subscriber id
   order, the conditions checked again. A claimer on another replica that wants the
   same rows waits for them (for as long as one claim statement takes) and then reads
   them as the previous claimer left them: under READ COMMITTED a row locked after a
   wait is re-read at its latest version and its conditions re-checked. So in-flight
   slots, tokens and the probe are never handed out twice, on any number of replicas.
3. **room**: how many each may take now, the least of: the batch; ``max_in_flight``
   minus the ``in_flight`` counter; the whole tokens of its bucket (refilled lazily:
   ``min(burst, tokens + rate * elapsed)``; burst defaults to one second of rate); and
   1 while the circuit is probing. A fair share (batch / ready subscribers) keeps one
   subscriber's backlog from filling every claim.
4. **picked**: for each, its oldest due deliveries from the same index, up to its room,
   ``FOR UPDATE SKIP LOCKED``; the oldest ``batch`` of them overall.
5. **claimed**, **flow**: lease them and charge an attempt; add them to ``in_flight``,
   take their tokens, and turn a probing circuit half-open with the probe's lease. A
   claimed row is updated where **picked** locked it (its ``ctid``), not looked up again
   through ``deliveries_pkey``, whose depth grows with every delivery kept. A row
   another claimer changed after this statement's snapshot (and left pending) is then
   locked but not updated: it stays pending, for the next claim.
6. **claimed_events**: their events, each read once (one scan of ``events_pkey`` over
   their ids), however many of its deliveries were claimed.

Cost: one index probe per active subscriber, plus at most ``batch`` flow rows and about
``batch`` deliveries: O(subscribers + batch), whatever the backlog. A paused, disabled,
throttled or open-circuit subscriber is left out before any of its deliveries is read:
its backlog is never scanned, and its deliveries are postponed (they stay pending, not
charged an attempt) until it may send again. Deliveries of an ordered subscriber that
wait behind the head of their key are ``queued``, outside the index
(store/ordering.py), so the claim sees at most one per key.

The ``in_flight`` counter moves with every transition in and out of in_flight: this
claim (+), settling an attempt (store/settle.py), releasing unattempted claims at
shutdown and expired leases (below) (-). Locks are always taken in one order --
delivery rows, then flow rows by subscriber id, then ordering keys by key -- and the
claim waits only for flow rows (deliveries it skips), so claims, settlements and the
lease sweeper never deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store import flow
from gateway.store.database import Database
from gateway.store.records import ClaimedDelivery, destination_of, transform_of
from gateway.store.sql import QUERIES

__all__ = ["claim", "release", "release_expired_leases"]


async def claim(
    db: Database,
    limit: int,
    lease_seconds: float,
    token: str,
    default_max_in_flight: int | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries within their subscribers' limits.

    ``default_max_in_flight`` caps, across every replica, the subscribers that set no
    ``max_in_flight`` of their own.
    """
    rows = await db.fetch("claim_deliveries", limit, lease_seconds, token, default_max_in_flight)
    claimed: list[ClaimedDelivery] = ClaimedDelivery.from_rows(rows)
    for c in claimed:
        if c.transform is not None:
            _read_json_column(c, "transform", transform_of)
        if c.destination is not None:
            _read_json_column(c, "destination", destination_of)
    return claimed


def _read_json_column(claimed: ClaimedDelivery, name: str, read: Callable[[Any], object]) -> None:
    """Read a setting the row holds as JSON (a transform, a destination) in place: the
    record is new and not yet shared, and copying one of 36 fields per row cost more than
    the transform's run."""
    object.__setattr__(claimed, name, read(getattr(claimed, name)))


async def release(db: Database, ids: Sequence[str], token: str) -> int:
    """Return claimed but unattempted deliveries to pending without charging an attempt."""
    async with db.transaction() as conn:
        rows = await conn.fetch(QUERIES["release_deliveries"], list(ids), token)
        await flow.release_in_flight(conn, Counter(r["subscriber_id"] for r in rows))
    return len(rows)


async def release_expired_leases(db: Database, limit: int = 1000) -> int:
    """Put deliveries whose lease ran out (a crashed worker) back to pending."""
    async with db.transaction() as conn:
        rows = await conn.fetch(QUERIES["release_expired_leases"], limit)
        await flow.release_in_flight(conn, Counter(r["subscriber_id"] for r in rows))
    return len(rows)
