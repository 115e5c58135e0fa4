"""A subscriber's recent health: attempts, success ratio, latency, backlog, circuit."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from gateway.store.database import Database

__all__ = ["SubscriberStats", "subscriber_stats"]


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriberStats:
    window_seconds: float
    attempts: int
    succeeded: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    backlog: dict[str, int]
    circuit_state: str
    circuit_open_until: datetime | None
    consecutive_failures: int
    failing_since: datetime | None


async def subscriber_stats(
    db: Database, subscriber_id: str, window_seconds: float
) -> SubscriberStats:
    attempts = await db.fetchrow("subscriber_attempt_stats", subscriber_id, window_seconds)
    backlog = {
        r["status"]: int(r["count"]) for r in await db.fetch("backlog_by_subscriber", subscriber_id)
    }
    circuit = await db.fetchrow("subscriber_circuit", subscriber_id)
    assert attempts is not None
    return SubscriberStats(
        window_seconds=window_seconds,
        attempts=int(attempts["attempts"]),
        succeeded=int(attempts["succeeded"]),
        p50_ms=attempts["p50_ms"],
        p95_ms=attempts["p95_ms"],
        p99_ms=attempts["p99_ms"],
        backlog={s: backlog.get(s, 0) for s in ("queued", "pending", "in_flight", "dead")},
        circuit_state=circuit["circuit_state"] if circuit else "closed",
        circuit_open_until=circuit["open_until"] if circuit else None,
        consecutive_failures=int(circuit["consecutive_failures"]) if circuit else 0,
        failing_since=circuit["failing_since"] if circuit else None,
    )
