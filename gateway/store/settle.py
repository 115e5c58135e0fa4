"""Settling attempts: attempt rows, delivery states, flow rows and ordered keys, at once.

One transaction per batch, locks taken in the store's one order: the deliveries (only
the holder of the current lease may settle one), then the subscribers' flow rows (their
in-flight counts and circuits, judged by the caller's ``evolve``), then the ordering
keys of deliveries that succeeded, whose next queued delivery is promoted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from gateway.store import flow, ordering
from gateway.store.database import Connection, Database
from gateway.store.records import Circuit, FlowChange, Settlement, SettleReport
from gateway.store.sql import QUERIES

__all__ = ["Evolve", "settle"]

Evolve = Callable[[Circuit, Sequence[Settlement], datetime], FlowChange]
"""How a subscriber's circuit changes with a batch of its attempts (oldest first)."""


def _unchanged(circuit: Circuit, _: Sequence[Settlement], __: datetime) -> FlowChange:
    return FlowChange(circuit)


async def settle(
    db: Database, settlements: Sequence[Settlement], evolve: Evolve = _unchanged
) -> SettleReport:
    """Record each attempt and move each delivery on, in one transaction.

    Attempts whose lease was lost meanwhile are recorded all the same; their delivery is
    left to the new lease holder and does not count for the circuit.
    """
    results = [s.result for s in settlements]
    async with db.transaction() as conn:
        rows = await conn.fetch(
            QUERIES["finish_deliveries"],
            [s.delivery_id for s in settlements],
            [s.lease_token for s in settlements],
            [s.status for s in settlements],
            [s.next_attempt_at for s in settlements],
            [r.status_code for r in results],
            [r.error for r in results],
            [s.attempt for s in settlements],
            [r.started_at for r in results],
            [r.duration_ms for r in results],
            [r.outcome for r in results],
            [r.response_snippet for r in results],
            [r.transform_version for r in results],
            [r.request_url for r in results],
            [r.request_bytes for r in results],
            [r.request_content_type for r in results],
        )
        owner = {r["id"]: r["subscriber_id"] for r in rows}
        report = await _settle_flow(conn, settlements, owner, evolve)
        finished = (r for r in rows if r["status"] in ("succeeded", "cancelled"))
        promoted = await ordering.take(conn, ordering.count_keys(finished))
        if promoted:
            await conn.execute(QUERIES["notify_deliveries"])
    dead = frozenset(r["id"] for r in rows if r["status"] == "dead")
    return dataclasses.replace(report, finished=frozenset(owner), promoted=len(promoted), dead=dead)


async def _settle_flow(
    conn: Connection,
    settlements: Sequence[Settlement],
    owner: dict[str, str],
    evolve: Evolve,
) -> SettleReport:
    """The circuits of the subscribers ``settlements`` are of, moved on; who was disabled,
    whose circuit opened or closed (only ``circuits``, ``disabled``, ``opened``,
    ``closed`` and ``at`` are filled)."""
    by_subscriber: dict[str, list[Settlement]] = {}
    for s in settlements:
        if s.delivery_id in owner:
            by_subscriber.setdefault(owner[s.delivery_id], []).append(s)
    if not by_subscriber:
        return SettleReport()
    now, current = await flow.lock(conn, by_subscriber)
    changes: dict[str, tuple[int, Circuit]] = {}
    reasons: dict[str, str] = {}
    for subscriber_id, group in by_subscriber.items():
        if subscriber_id not in current:
            continue  # deleted meanwhile
        group.sort(key=lambda s: s.result.started_at)
        change = evolve(current[subscriber_id], group, now)
        changes[subscriber_id] = (len(group), change.circuit)
        if change.disable_reason:
            reasons[subscriber_id] = change.disable_reason
    await flow.write(conn, changes)
    disabled: dict[str, str] = {}
    if reasons:  # those disabled already (by another batch, a replica) stay as they are
        ids = list(reasons)
        changed = await conn.fetch(QUERIES["disable_subscribers"], ids, [reasons[i] for i in ids])
        disabled = {r["id"]: reasons[r["id"]] for r in changed}
    before = {i: current[i].state for i in changes}
    after = {i: c.state for i, (_, c) in changes.items()}
    opened = frozenset(i for i in after if before[i] == "closed" and after[i] == "open")
    failing = {i: changes[i][1].failing_since for i in opened | disabled.keys()}
    return SettleReport(
        circuits=after,
        disabled=disabled,
        opened=opened,
        closed=frozenset(i for i in after if before[i] != "closed" and after[i] == "closed"),
        at=now,
        failing_since={i: since for i, since in failing.items() if since is not None},
    )
