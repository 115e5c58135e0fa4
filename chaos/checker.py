"""After a scenario: was every acknowledged event stored and delivered, and nothing else?

The checker holds the gateway to its promise with what the load generator was told
(:class:`~chaos.load.Ledger`), what the subscribers received
(:class:`~chaos.subscribers.Recorder`) and what the database holds (read directly):

- every acknowledged event is stored, under the sender's event id, with a delivery row
  for each subscriber whose filters match it, and none for the others;
- every acknowledged event reached each matching subscriber at least once;
- nothing was delivered that was never stored, and every body is the sender's;
- no sender event was acknowledged under two event ids;
- duplicate deliveries are counted (at least once allows them);
- no two attempts of one delivery overlapped (at the subscriber or in the attempt log);
- nothing is left ``in_flight`` once its lease has expired and been swept.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg

from chaos.lab import LEASE_SECONDS, SWEEP_SECONDS
from chaos.load import SOURCE, Ledger
from chaos.subscribers import Recorder
from testkit.polling import became

_OVERLAPPING_ATTEMPTS = """
SELECT a.delivery_id, a.attempt, b.attempt AS other,
       a.started_at = b.started_at AND a.duration_ms = b.duration_ms AS same
FROM delivery_attempts a
JOIN delivery_attempts b ON b.delivery_id = a.delivery_id AND b.id > a.id
WHERE a.started_at < b.started_at + b.duration_ms * interval '1 millisecond'
  AND b.started_at < a.started_at + a.duration_ms * interval '1 millisecond'
LIMIT 20
"""
_STUCK = """
SELECT id, lease_until FROM deliveries
WHERE status = 'in_flight' AND lease_until < now() - make_interval(secs => $1)
LIMIT 20
"""


@dataclasses.dataclass
class Fault:
    """One fault: when it began, when it was cleared, and how the gateway came back."""

    name: str
    began: float
    cleared: float
    back: float | None = None  # the component was up again (gateway ready, database started)
    first_ack: float | None = None  # the first acknowledgement after it was cleared
    drained: float | None = None  # every event acknowledged before it was delivered

    def figures(self) -> dict[str, float | None]:
        def since(t: float | None) -> float | None:
            return None if t is None else round(max(t - self.cleared, 0.0), 2)

        return {
            "down_s": round(self.cleared - self.began, 2),
            "back_after_s": since(self.back),
            "first_ack_after_s": since(self.first_ack),
            "drained_after_s": since(self.drained),
        }


@dataclasses.dataclass
class Verdict:
    scenario: str
    sent: int = 0
    acknowledged: int = 0
    answers: dict[str, int] = dataclasses.field(default_factory=dict)
    expected_deliveries: int = 0
    deliveries_received: int = 0
    duplicates: int = 0
    lost: list[str] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    faults: list[Fault] = dataclasses.field(default_factory=list)
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.lost and not self.violations

    @property
    def duplicate_ratio(self) -> float:
        return self.duplicates / self.expected_deliveries if self.expected_deliveries else 0.0

    def fail(self, what: str, items: list[str] | None = None) -> None:
        if items is None:
            self.violations.append(what)
        elif items:
            shown = ", ".join(items[:10]) + (" …" if len(items) > 10 else "")
            self.violations.append(f"{what}: {len(items)} ({shown})")

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "lost": len(self.lost),
            "expected_deliveries": self.expected_deliveries,
            "deliveries_received": self.deliveries_received,
            "duplicates": self.duplicates,
            "duplicate_ratio": round(self.duplicate_ratio, 5),
            "answers": self.answers,
            "faults": [{"name": f.name, **f.figures()} for f in self.faults],
            **self.figures,
            "violations": self.violations + [f"lost: {x}" for x in self.lost[:20]],
        }


async def check(
    verdict: Verdict,
    database_url: str,
    ledger: Ledger,
    recorders: list[Recorder],
    *,
    drain_limit: float = 60.0,
) -> Verdict:
    """Wait (bounded) for the deliveries to settle, then hold everything to the promise."""
    verdict.sent = len(ledger.topics)
    verdict.acknowledged = len(ledger.acked)
    verdict.answers = ledger.statuses()
    expected = _expected(ledger, recorders)
    verdict.expected_deliveries = sum(len(ids) for ids in expected.values())
    await _wait_delivered(expected, recorders, drain_limit)
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        await _wait_settled(conn, recorders, LEASE_SECONDS * 2 + SWEEP_SECONDS * 3 + 5)
        await _hold(verdict, conn, ledger, recorders, expected)
    finally:
        await conn.close()
    for fault in verdict.faults:
        _recovery(fault, ledger, recorders, expected)
    return verdict


def _expected(ledger: Ledger, recorders: list[Recorder]) -> dict[str, set[str]]:
    """Per recorder name: the event ids it must receive."""
    return {
        r.name: {
            event_id
            for sender_id, event_id in ledger.acked.items()
            if r.matches(ledger.topics[sender_id])
        }
        for r in recorders
    }


async def _wait_delivered(
    expected: dict[str, set[str]], recorders: list[Recorder], limit: float
) -> None:
    by_name = {r.name: r for r in recorders}
    await became(
        lambda: all(ids <= by_name[name].first.keys() for name, ids in expected.items()), limit, 0.1
    )


async def _wait_settled(conn: asyncpg.Connection, recorders: list[Recorder], limit: float) -> None:
    """Until the recorders' deliveries are neither pending nor in flight (bounded)."""
    ids = [r.subscriber_id for r in recorders if r.subscriber_id]

    async def settled() -> bool:
        open_ = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE subscriber_id = ANY($1::text[])"
            " AND status IN ('pending', 'in_flight', 'queued')",
            ids,
        )
        return bool(open_ == 0)

    await became(settled, limit, 0.2)


async def _hold(
    verdict: Verdict,
    conn: asyncpg.Connection,
    ledger: Ledger,
    recorders: list[Recorder],
    expected: dict[str, set[str]],
) -> None:
    stored = {
        r["id"]: r["external_id"]
        for r in await conn.fetch("SELECT id, external_id FROM events WHERE source = $1", SOURCE)
    }
    rows: dict[str, set[str]] = {}
    for r in await conn.fetch("SELECT event_id, subscriber_id FROM deliveries"):
        rows.setdefault(r["subscriber_id"], set()).add(r["event_id"])
    verdict.figures["events_stored"] = len(stored)
    verdict.fail(
        "acknowledged but not stored under the sender's id",
        [f"{s}->{e}" for s, e in ledger.acked.items() if stored.get(e) != s],
    )
    verdict.fail("acknowledged under two event ids", ledger.conflicts)
    verdict.fail(
        "valid events refused with 4xx", [f"{a.sender_id}: {a.status}" for a in ledger.refused]
    )
    for recorder in recorders:
        wanted = expected[recorder.name]
        have = rows.get(recorder.subscriber_id or "", set())
        verdict.fail(f"{recorder.name}: no delivery row", sorted(wanted - have))
        acked_ids = set(ledger.acked.values())
        verdict.fail(
            f"{recorder.name}: delivery row for an event its filters do not match",
            sorted((have & acked_ids) - wanted),
        )
        got = set(recorder.first)
        verdict.lost += [f"{recorder.name}:{e}" for e in sorted(wanted - got)]
        verdict.fail(f"{recorder.name}: delivered but never stored", sorted(got - set(stored)))
        verdict.fail(
            f"{recorder.name}: body of another sender event",
            [
                a.webhook_id
                for a in recorder.arrivals
                if stored.get(a.webhook_id, a.sender_id) != a.sender_id
            ],
        )
        verdict.fail(f"{recorder.name}: bad signature", recorder.bad_signatures)
        verdict.fail(f"{recorder.name}: two attempts at once", recorder.overlaps)
        verdict.deliveries_received += sum(recorder.counts.values())
        verdict.duplicates += sum(n - 1 for n in recorder.counts.values())
    overlapping = await conn.fetch(_OVERLAPPING_ATTEMPTS)
    verdict.fail(
        "one attempt recorded twice",
        [f"{r['delivery_id']} #{r['attempt']}/#{r['other']}" for r in overlapping if r["same"]],
    )
    verdict.fail(
        "attempts of one delivery overlapping in time",
        [f"{r['delivery_id']} #{r['attempt']}/#{r['other']}" for r in overlapping if not r["same"]],
    )
    stuck = await conn.fetch(_STUCK, SWEEP_SECONDS * 3)
    verdict.fail("in_flight after the lease expired", [r["id"] for r in stuck])


def _recovery(
    fault: Fault, ledger: Ledger, recorders: list[Recorder], expected: dict[str, set[str]]
) -> None:
    fault.first_ack = ledger.first_ack_after(fault.cleared)
    before = {e for s, e in ledger.acked.items() if ledger.acked_at[s] < fault.began}
    last = None
    for recorder in recorders:
        for event_id in expected[recorder.name] & before:
            at = recorder.first.get(event_id)
            if at is None:
                return  # lost: reported elsewhere
            last = at if last is None else max(last, at)
    fault.drained = max(last, fault.cleared) if last is not None else fault.cleared
