"""Tens of thousands of stored events in one statement each, for retention and backlog tests.

Test code only: it writes rows the way the gateway would have left them (events, one
delivery per subscriber in the given state, its attempts), aged as asked, with
``generate_series`` instead of going through the ingress.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any

SEED = """
WITH ev AS (
    INSERT INTO events (id, source, external_id, event_type, received_at, content_type, body)
    SELECT gateway_id('evt'), $1, $2 || g, 'orders/create',
           now() - make_interval(secs => $3 * 86400 + g % 3600),
           'application/json', convert_to('{"n":' || g || '}', 'UTF8')
    FROM generate_series(1, $4::int) AS g
    RETURNING id, received_at
), dl AS (
    INSERT INTO deliveries (id, event_id, subscriber_id, status, attempts, total_attempts,
                            next_attempt_at, lease_until, lease_token, created_at, updated_at,
                            completed_at, last_status_code)
    SELECT gateway_id('dlv'), ev.id, s.id, $6, $7, $7, ev.received_at,
           CASE WHEN $6 = 'in_flight' THEN now() + interval '10 minutes' END,
           CASE WHEN $6 = 'in_flight' THEN 'seeded' END,
           ev.received_at, ev.received_at + make_interval(secs => $8 * 86400),
           CASE WHEN $6 IN ('succeeded', 'dead', 'cancelled')
                THEN ev.received_at + make_interval(secs => $8 * 86400) END,
           CASE WHEN $6 = 'succeeded' THEN 200 WHEN $6 = 'dead' THEN 500 END
    FROM ev CROSS JOIN unnest($5::text[]) AS s(id)
    RETURNING id, created_at, attempts, status
), att AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code,
                                   outcome, error)
    SELECT dl.id, a, dl.created_at + make_interval(secs => a),
           12.5, CASE WHEN dl.status = 'succeeded' AND a = dl.attempts THEN 200 ELSE 500 END,
           CASE WHEN dl.status = 'succeeded' AND a = dl.attempts THEN 'success'
                ELSE 'http_error' END,
           CASE WHEN dl.status = 'succeeded' AND a = dl.attempts THEN NULL ELSE 'HTTP 500' END
    FROM dl CROSS JOIN generate_series(1, dl.attempts) AS a
    RETURNING 1
)
SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM dl) AS deliveries,
       (SELECT count(*) FROM att) AS attempts;
"""


@dataclasses.dataclass(frozen=True)
class Seeded:
    events: int
    deliveries: int
    attempts: int


async def seed(
    conn: Any,
    *,
    count: int,
    age_days: float,
    subscriber_ids: Sequence[str] = (),
    status: str = "succeeded",
    attempts: int = 1,
    finished_after_days: float = 0.0,
    source: str = "shop",
    prefix: str | None = None,
) -> Seeded:
    """``count`` events of ``source`` received ``age_days`` ago (spread over an hour).

    Each gets one delivery per subscriber in ``status`` with ``attempts`` attempts,
    finished (for a final status) ``finished_after_days`` after the event arrived.
    ``conn`` is an asyncpg connection or pool; external ids are ``prefix`` + a number
    (a random prefix by default, so calls never collide).
    """
    row = await conn.fetchrow(
        SEED,
        source,
        prefix or f"seed-{secrets.token_hex(4)}-",
        float(age_days),
        count,
        list(subscriber_ids),
        status,
        attempts,
        float(finished_after_days),
    )
    return Seeded(int(row["events"]), int(row["deliveries"]), int(row["attempts"]))


async def seed_subscribers(conn: Any, names: Sequence[str]) -> list[str]:
    """Subscribers with the given names (loopback URLs); returns their ids in order."""
    rows = await conn.fetch(
        """
        INSERT INTO subscribers (id, name, url, secret)
        SELECT gateway_id('sub'), n, 'http://127.0.0.1:9/' || n, 'whsec_c2VlZGVk'
        FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)
        ORDER BY i
        RETURNING id, name
        """,
        list(names),
    )
    ids = {r["name"]: r["id"] for r in rows}
    return [ids[n] for n in names]
