-- All runtime SQL of the gateway. Each block starts with "-- name: <query_name>".

-- name: insert_events
-- Store a batch of events and fan each new one out to the matching subscribers, in one
-- statement. Duplicates (same source + external_id) are skipped by the unique index.
WITH input AS (
    SELECT *
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::bytea[])
         AS t(id, source, external_id, event_type, ordering_key, content_type, headers, body)
), inserted AS (
    INSERT INTO events (id, source, external_id, event_type, ordering_key, content_type,
                        headers, body)
    SELECT id, source, external_id, event_type, ordering_key, content_type, headers::jsonb, body
    FROM input
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id, source, event_type, received_at
), fanned AS (
    INSERT INTO deliveries (id, event_id, subscriber_id, next_attempt_at)
    SELECT gateway_id('dlv'), i.id, s.id, i.received_at
    FROM inserted i
    JOIN subscribers s
      ON s.state <> 'disabled'
     AND (cardinality(s.sources) = 0 OR i.source = ANY (s.sources))
     AND (cardinality(s.event_type_likes) = 0
          OR EXISTS (SELECT 1 FROM unnest(s.event_type_likes) AS p(pattern)
                     WHERE i.event_type LIKE p.pattern))
    RETURNING 1
)
SELECT (SELECT array_agg(id) FROM inserted) AS inserted_ids,
       (SELECT count(*) FROM fanned) AS deliveries;

-- name: find_events_by_external_id
SELECT e.id, e.source, e.external_id
FROM events e
JOIN unnest($1::text[], $2::text[]) AS k(source, external_id)
  ON e.source = k.source AND e.external_id = k.external_id;

-- name: notify_deliveries
SELECT pg_notify('gateway_deliveries', '');

-- name: claim_deliveries
-- Claim due deliveries of active subscribers with a lease; one atomic statement.
WITH due AS (
    SELECT d.id
    FROM deliveries d
    WHERE d.status = 'pending'
      AND d.next_attempt_at <= now()
      AND NOT EXISTS (SELECT 1 FROM subscribers s
                      WHERE s.id = d.subscriber_id AND s.state <> 'active')
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE deliveries d
    SET status = 'in_flight',
        lease_until = now() + make_interval(secs => $2),
        lease_token = $3,
        attempts = d.attempts + 1,
        total_attempts = d.total_attempts + 1,
        updated_at = now()
    FROM due
    WHERE d.id = due.id
    RETURNING d.id, d.event_id, d.subscriber_id, d.attempts, d.total_attempts
)
SELECT c.id, c.event_id, c.subscriber_id, c.attempts, c.total_attempts,
       e.source, e.event_type, e.received_at, e.content_type, e.body,
       s.name AS subscriber_name, s.url, s.secret, s.previous_secret,
       s.previous_secret_expires_at, s.headers AS subscriber_headers, s.timeout_seconds,
       s.max_attempts, s.backoff_base_seconds, s.backoff_cap_seconds
FROM claimed c
JOIN events e ON e.id = c.event_id
JOIN subscribers s ON s.id = c.subscriber_id;

-- name: record_attempts
INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code,
                               outcome, error, response_snippet)
SELECT *
FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::float8[], $5::int[], $6::text[],
            $7::text[], $8::text[]);

-- name: finish_deliveries
-- Settle claimed deliveries; only the holder of the current lease may do so.
UPDATE deliveries d
SET status = u.status,
    next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
    lease_until = NULL,
    lease_token = NULL,
    last_status_code = u.status_code,
    last_error = u.error,
    completed_at = CASE WHEN u.status IN ('succeeded', 'dead') THEN now() END,
    updated_at = now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::text[])
     AS u(id, lease_token, status, next_attempt_at, status_code, error)
WHERE d.id = u.id
  AND d.status = 'in_flight'
  AND d.lease_token = u.lease_token
RETURNING d.id;

-- name: release_deliveries
-- Give back claims that were never attempted (shutdown): the attempt is not charged.
UPDATE deliveries
SET status = 'pending', lease_until = NULL, lease_token = NULL,
    attempts = greatest(attempts - 1, 0), total_attempts = greatest(total_attempts - 1, 0),
    updated_at = now()
WHERE id = ANY ($1::text[]) AND status = 'in_flight' AND lease_token = $2
RETURNING id;

-- name: release_expired_leases
UPDATE deliveries
SET status = 'pending', lease_until = NULL, lease_token = NULL, updated_at = now()
WHERE id IN (SELECT id FROM deliveries
             WHERE status = 'in_flight' AND lease_until < now()
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: insert_subscriber
INSERT INTO subscribers (id, name, url, description, secret, sources, event_types,
                         event_type_likes, headers, timeout_seconds, max_attempts,
                         backoff_base_seconds, backoff_cap_seconds, max_in_flight,
                         rate_limit_per_second, ordered, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
RETURNING *;

-- name: update_subscriber
UPDATE subscribers
SET name = $2, url = $3, description = $4, sources = $5, event_types = $6,
    event_type_likes = $7, headers = $8, timeout_seconds = $9, max_attempts = $10,
    backoff_base_seconds = $11, backoff_cap_seconds = $12, max_in_flight = $13,
    rate_limit_per_second = $14, ordered = $15, state = $16, state_reason = $17,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: get_subscriber
SELECT * FROM subscribers WHERE id = $1;

-- name: list_subscribers
SELECT * FROM subscribers
WHERE ($1::text IS NULL OR id > $1)
ORDER BY id
LIMIT $2;

-- name: delete_subscriber
DELETE FROM subscribers WHERE id = $1 RETURNING id;

-- name: get_delivery
SELECT d.*, s.name AS subscriber_name, e.source, e.event_type
FROM deliveries d
JOIN subscribers s ON s.id = d.subscriber_id
JOIN events e ON e.id = d.event_id
WHERE d.id = $1;

-- name: list_deliveries
SELECT d.*, s.name AS subscriber_name, e.source, e.event_type
FROM deliveries d
JOIN subscribers s ON s.id = d.subscriber_id
JOIN events e ON e.id = d.event_id
WHERE ($1::text IS NULL OR d.status = $1)
  AND ($2::text IS NULL OR d.subscriber_id = $2)
  AND ($3::text IS NULL OR d.event_id = $3)
  AND ($4::text IS NULL OR d.id > $4)
ORDER BY d.id
LIMIT $5;

-- name: list_attempts
SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt, id;

-- name: retry_delivery
-- A dead, succeeded or cancelled delivery goes back to pending with a fresh set of attempts.
UPDATE deliveries
SET status = 'pending', attempts = 0, next_attempt_at = now(), completed_at = NULL,
    updated_at = now()
WHERE id = $1 AND status IN ('dead', 'succeeded', 'cancelled')
RETURNING id;

-- name: get_event
SELECT * FROM events WHERE id = $1;

-- name: current_revision
SELECT version_num FROM alembic_version;

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = $1;
