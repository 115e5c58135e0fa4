-- All runtime SQL of the gateway. Each block starts with "-- name: <query_name>".

-- name: insert_events
-- Store a batch of events and fan each new one out to the matching subscribers, in one
-- statement (run on its own: it is its own transaction). Duplicates are skipped by a
-- unique index: the same source + external_id, or the same source + replay_digest (the
-- event type and body, for sources with a replay window; NULL, and so never equal,
-- for the others). DO NOTHING names no index, so either one makes a duplicate.
-- body_view: an XML body's JSON view, as JSON text; NULL for every other body.
-- A subscriber with a content filter takes an event only when its filter holds on the
-- event. The ingress judges events by the filters it compiled ($15, $16: the
-- subscribers and the filter versions it judged by; a filter's place in that list is
-- its position, from 0): of each event's pairs (event id, position) in $12..$14, those
-- whose filter holds (holds) and those it could not decide (NOT holds); every other
-- filter it judged does not hold on that event. Its verdict on a subscriber counts only
-- while the subscriber's filter_version is the one judged by (judged.at). Else, and
-- for the pairs it could not decide, the compiled filter (filter_path) is evaluated
-- here, over the event's body with its headers, type, source and id as variables
-- (documents): read once per event, and only for an event that the ingress could not
-- decide on ($11, their ids) or that a filtered subscriber without a verdict takes by
-- its source. filters_stale: the ingress judged by filters that are no longer all the
-- current ones (it reloads them). $17, $18: the traced events' trace ids and ingest span
-- ids (NULL, not arrays, for a batch with none traced).
-- An ordered subscriber's delivery with an ordering key is counted in ordering_keys (the
-- upsert locks the key's row): it starts pending only when nothing of its key is
-- unfinished, else queued behind the head until the settler promotes it.
WITH input AS (
    SELECT *
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::bytea[], $9::bytea[], $10::text[], $17::text[], $18::text[])
         WITH ORDINALITY
         AS t(id, source, external_id, event_type, ordering_key, content_type, headers, body,
              replay_digest, body_view, trace_id, trace_span_id, ord)
), inserted AS (
    INSERT INTO events (id, source, external_id, event_type, ordering_key, content_type,
                        headers, body, replay_digest, body_view, trace_id, trace_span_id)
    SELECT id, source, external_id, event_type, ordering_key, content_type, headers::jsonb, body,
           replay_digest, body_view::jsonb, trace_id, trace_span_id
    FROM input
    ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING id, source, event_type, ordering_key, received_at, seq, headers, body, body_view
), judged AS MATERIALIZED (
    SELECT s.id, s.sources, s.event_type_likes, s.ordered, s.filter_path, (v.n - 1)::int AS at
    FROM subscribers s
    LEFT JOIN unnest($15::text[], $16::bigint[]) WITH ORDINALITY AS v(id, version, n)
           ON v.id = s.id AND v.version = s.filter_version
    WHERE s.state <> 'disabled'
), unjudged AS MATERIALIZED (
    -- the subscribers that every event meets: no filter, or none the ingress judged by
    SELECT * FROM judged WHERE filter_path IS NULL OR at IS NULL
), verdicts AS (
    SELECT * FROM unnest($12::text[], $13::int[], $14::bool[]) AS v(event_id, at, holds)
), documents AS MATERIALIZED (
    SELECT i.id, i.source, i.event_type, i.ordering_key, i.received_at, i.seq, f.body,
           f.variables
    FROM inserted i
    LEFT JOIN LATERAL (
        SELECT gateway_filter_body(i.body, i.body_view) AS body,
               gateway_filter_variables(i.event_type, i.source, i.id, i.headers) AS variables
        WHERE i.id = ANY ($11::text[])
           OR EXISTS (SELECT 1 FROM unjudged s
                      WHERE s.filter_path IS NOT NULL
                        AND gateway_takes_source(s.sources, i.source))
        LIMIT 1  -- a subquery of its own: the body is read only when the test passes
    ) f ON true
), targets AS (
    SELECT i.id AS event_id, s.id AS subscriber_id, i.received_at, i.seq,
           CASE WHEN s.ordered THEN i.ordering_key END AS ordering_key
    FROM documents i
    JOIN unjudged s
      ON gateway_takes_source(s.sources, i.source)
     AND (cardinality(s.event_type_likes) = 0
          OR EXISTS (SELECT 1 FROM unnest(s.event_type_likes) AS p(pattern)
                     WHERE i.event_type LIKE p.pattern))
     AND (s.filter_path IS NULL OR jsonb_path_match(i.body, s.filter_path, i.variables, true))
    UNION ALL
    SELECT i.id, s.id, i.received_at, i.seq, CASE WHEN s.ordered THEN i.ordering_key END
    FROM verdicts v
    JOIN documents i ON i.id = v.event_id
    JOIN judged s
      ON s.at = v.at
     AND gateway_takes_source(s.sources, i.source)
     AND (cardinality(s.event_type_likes) = 0
          OR EXISTS (SELECT 1 FROM unnest(s.event_type_likes) AS p(pattern)
                     WHERE i.event_type LIKE p.pattern))
     AND (v.holds OR jsonb_path_match(i.body, s.filter_path, i.variables, true))
), keyed AS (
    INSERT INTO ordering_keys AS k (subscriber_id, ordering_key, unfinished)
    SELECT subscriber_id, ordering_key, count(*)
    FROM targets
    WHERE ordering_key IS NOT NULL
    GROUP BY subscriber_id, ordering_key
    ORDER BY subscriber_id, ordering_key
    ON CONFLICT (subscriber_id, ordering_key)
    DO UPDATE SET unfinished = k.unfinished + EXCLUDED.unfinished
    RETURNING k.subscriber_id, k.ordering_key, k.unfinished
), held AS (
    -- the subscribers fanned out to, locked until COMMIT (deliveries have no foreign
    -- keys: see migration 0017): one deleted meanwhile is skipped and gets nothing, and
    -- a deletion waits for this statement, then takes its deliveries too
    SELECT s.id AS subscriber_id
    FROM subscribers s
    WHERE s.id = ANY (ARRAY(SELECT DISTINCT subscriber_id FROM targets))
    FOR KEY SHARE OF s
), fanned AS (
    INSERT INTO deliveries (id, event_id, subscriber_id, next_attempt_at, enqueued_at,
                            ordering_key, status)
    SELECT gateway_id('dlv'), t.event_id, t.subscriber_id, t.received_at, t.received_at,
           t.ordering_key,
           CASE WHEN t.ordering_key IS NULL THEN 'pending'
                WHEN k.unfinished = count(*) OVER per_key
                 AND row_number() OVER (per_key ORDER BY t.seq) = 1 THEN 'pending'
                ELSE 'queued' END
    FROM targets t
    JOIN held USING (subscriber_id)
    LEFT JOIN keyed k USING (subscriber_id, ordering_key)
    WINDOW per_key AS (PARTITION BY t.subscriber_id, t.ordering_key)
    ORDER BY t.seq, t.subscriber_id
    RETURNING 1
), counted AS (
    SELECT count(*) AS deliveries FROM fanned
)
-- One statement, so one round trip and its own transaction. No NOTIFY in it: a NOTIFY
-- holds one database-wide lock from before COMMIT until its WAL is flushed, which would
-- make concurrent batches commit one after another (the writer notifies on its own).
SELECT (SELECT array_agg(id) FROM inserted) AS inserted_ids, c.deliveries,
       EXISTS (SELECT 1 FROM unjudged WHERE filter_path IS NOT NULL)
       OR (SELECT count(at) FROM judged) <> coalesce(cardinality($15::text[]), 0)
           AS filters_stale
FROM counted c;

-- name: filters_in_force
-- The content filters the ingress judges events by (see insert_events): every
-- subscriber's that is not disabled, with its version and its path as PostgreSQL prints it.
SELECT id, filter_version, sources, filter::text AS filter, filter_path::text AS filter_path
FROM subscribers
WHERE filter_path IS NOT NULL AND state <> 'disabled'
ORDER BY id;

-- name: printed_jsonpaths
-- Paths as PostgreSQL prints them once read: a path compiled by this code is the one
-- stored when both print alike.
SELECT coalesce(array_agg(p::jsonpath::text ORDER BY n), '{}')
FROM unnest($1::text[]) WITH ORDINALITY AS t(p, n);

-- name: find_duplicates
-- For each event the insert skipped, in order: the stored event it duplicates, by sender
-- event id first, else by replay digest. ``stale``: only the digest matched, and that
-- event came longer ago than the window ($4, seconds), so it no longer counts. ``id`` is
-- NULL when neither is there any more (retention, or a stale digest just forgotten).
SELECT coalesce(x.id, d.id) AS id,
       x.id IS NULL AND d.received_at <= now() - make_interval(secs => k.replay_window)
           AS stale
FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[]) WITH ORDINALITY
     AS k(source, external_id, replay_digest, replay_window, ord)
LEFT JOIN events x ON x.source = k.source AND x.external_id = k.external_id
LEFT JOIN events d ON d.source = k.source AND d.replay_digest = k.replay_digest
                  AND d.replay_digest IS NOT NULL
ORDER BY k.ord;

-- name: forget_replay_digests
-- Digests whose window has passed stop making duplicates (find_duplicates said stale).
UPDATE events SET replay_digest = NULL
WHERE id = ANY ($1::text[]) AND replay_digest IS NOT NULL;

-- name: notify_deliveries
SELECT pg_notify('gateway_deliveries', '');

-- name: claim_deliveries
-- Lease due deliveries within every subscriber's limits; one statement (see store/claim.py).
-- $1 batch size, $2 lease seconds, $3 lease token, $4 in-flight cap for subscribers that
-- set none (NULL: no cap), so one slow subscriber cannot hold every slot.
WITH candidates AS MATERIALIZED (
    SELECT s.id, coalesce(s.max_in_flight, $4::int) AS max_in_flight,
           s.rate_limit_per_second AS rate,
           coalesce(s.rate_limit_burst, greatest(s.rate_limit_per_second, 1)) AS burst,
           head.next_attempt_at AS head_at
    FROM subscribers s
    JOIN subscriber_flow f ON f.subscriber_id = s.id
    CROSS JOIN LATERAL (
        SELECT d.next_attempt_at FROM deliveries d
        WHERE d.subscriber_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at
        LIMIT 1
    ) head
    WHERE s.state = 'active'
      AND (coalesce(s.max_in_flight, $4::int) IS NULL
           OR f.in_flight < coalesce(s.max_in_flight, $4::int))
      AND (s.rate_limit_per_second IS NULL
           OR f.tokens IS NULL
           OR f.tokens + s.rate_limit_per_second * extract(epoch FROM now() - f.refilled_at) >= 1)
      AND (f.throttled_until IS NULL OR f.throttled_until <= now())
      AND (f.circuit_state = 'closed'
           OR (f.circuit_state = 'open' AND f.open_until <= now())
           OR (f.circuit_state = 'half_open'
               AND (f.probe_until IS NULL OR f.probe_until <= now())))
    ORDER BY head.next_attempt_at
    LIMIT $1
), ready AS MATERIALIZED (
    SELECT f.subscriber_id, f.in_flight, f.circuit_state, c.max_in_flight, c.rate,
           CASE WHEN c.rate IS NOT NULL THEN
               least(c.burst, coalesce(f.tokens + c.rate * extract(epoch FROM now() - f.refilled_at),
                                       c.burst))
           END AS tokens
    FROM subscriber_flow f
    JOIN candidates c ON c.id = f.subscriber_id
    WHERE (f.throttled_until IS NULL OR f.throttled_until <= now())
      AND (f.circuit_state = 'closed'
           OR (f.circuit_state = 'open' AND f.open_until <= now())
           OR (f.circuit_state = 'half_open'
               AND (f.probe_until IS NULL OR f.probe_until <= now())))
    ORDER BY f.subscriber_id
    FOR UPDATE OF f
), room AS MATERIALIZED (
    SELECT r.*,
           greatest(0, least($1,
                             CASE WHEN r.circuit_state = 'closed' THEN $1 ELSE 1 END,
                             coalesce(r.max_in_flight - r.in_flight, $1),
                             coalesce(floor(r.tokens)::int, $1))) AS room,
           greatest(1, ceil($1::float8 / count(*) OVER ()))::int AS share
    FROM ready r
), picked AS (
    SELECT p.row_at, p.next_attempt_at
    FROM room r
    CROSS JOIN LATERAL (
        SELECT d.ctid AS row_at, d.next_attempt_at
        FROM deliveries d
        WHERE d.subscriber_id = r.subscriber_id AND d.status = 'pending'
          AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at
        LIMIT least(r.room, r.share)
        FOR UPDATE OF d SKIP LOCKED
    ) p
    WHERE r.room > 0
    ORDER BY p.next_attempt_at
    LIMIT $1
), claimed AS (
    UPDATE deliveries d
    SET status = 'in_flight',
        lease_until = now() + make_interval(secs => $2),
        lease_token = $3,
        attempts = d.attempts + 1,
        total_attempts = d.total_attempts + 1,
        updated_at = now()
    FROM picked p
    WHERE d.ctid = p.row_at  -- the row version just locked: no look-up by key
    RETURNING d.id, d.event_id, d.subscriber_id, d.attempts, d.total_attempts, d.enqueued_at,
              d.ordering_key, d.next_attempt_at
), taken AS (
    SELECT subscriber_id, count(*)::int AS n FROM claimed GROUP BY subscriber_id
), flow AS (
    UPDATE subscriber_flow f
    SET in_flight = f.in_flight + t.n,
        tokens = CASE WHEN r.rate IS NULL THEN NULL ELSE r.tokens - t.n END,
        refilled_at = now(),
        circuit_state = CASE WHEN f.circuit_state = 'closed' THEN 'closed' ELSE 'half_open' END,
        probe_until = CASE WHEN f.circuit_state = 'closed' THEN NULL
                           ELSE now() + make_interval(secs => $2) END,
        updated_at = now()
    FROM taken t
    JOIN room r USING (subscriber_id)
    WHERE f.subscriber_id = t.subscriber_id
    RETURNING 1
), claimed_events AS MATERIALIZED (
    -- each event once, however many of its deliveries were claimed
    SELECT e.id, e.source, e.external_id, e.event_type, e.received_at, e.content_type,
           e.headers, e.body, e.body_view, e.trace_id, e.trace_span_id
    FROM events e
    WHERE e.id = ANY (ARRAY(SELECT DISTINCT event_id FROM claimed))
)
SELECT c.id, c.event_id, c.subscriber_id, c.attempts, c.total_attempts, c.enqueued_at,
       c.ordering_key, e.source, e.external_id, e.event_type, e.received_at, e.content_type,
       e.headers AS event_headers, e.body, s.name AS subscriber_name, s.url, s.destination,
       s.secret, s.previous_secret, s.previous_secret_expires_at,
       s.headers AS subscriber_headers, s.timeout_seconds, s.max_attempts,
       s.backoff_base_seconds, s.backoff_cap_seconds, s.https_only, s.forward_headers,
       s.retry_schedule, s.max_age_seconds, s.payload_mode, s.thin_above_bytes, s.transform,
       s.proxy, s.tls,
       CASE WHEN s.transform IS NOT NULL OR s.destination IS NOT NULL THEN e.body_view END
           AS body_view,
       c.next_attempt_at AS due_at, e.trace_id, e.trace_span_id, s.send_traceparent
FROM claimed c
JOIN claimed_events e ON e.id = c.event_id
JOIN subscribers s ON s.id = c.subscriber_id;

-- name: finish_deliveries
-- Record each attempt and settle its delivery, in one statement. Only the holder of the
-- current lease may settle a delivery; an attempt whose lease was lost meanwhile is
-- recorded all the same. A delivery its transform chose not to send ends cancelled.
-- Idempotent: a batch retried because its COMMIT's answer was
-- lost (the database went away just then) finds its attempts already recorded and adds
-- none, and its deliveries no longer in flight.
WITH recorded AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms,
                                   status_code, outcome, error, response_snippet,
                                   transform_version, request_url, request_bytes,
                                   request_content_type)
    SELECT u.id, u.attempt, u.started_at, u.duration_ms, u.status_code, u.outcome,
           u.error, u.response_snippet, u.transform_version, u.request_url,
           u.request_bytes, u.request_content_type
    FROM unnest($1::text[], $7::int[], $8::timestamptz[], $9::float8[], $5::int[],
                $10::text[], $6::text[], $11::text[], $12::text[], $13::text[],
                $14::int[], $15::text[])
         AS u(id, attempt, started_at, duration_ms, status_code, outcome, error,
              response_snippet, transform_version, request_url, request_bytes,
              request_content_type)
    WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts a
                      WHERE a.delivery_id = u.id AND a.attempt = u.attempt
                        AND a.started_at = u.started_at)
)
UPDATE deliveries d
SET status = u.status,
    next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
    lease_until = NULL,
    lease_token = NULL,
    last_status_code = u.status_code,
    last_error = u.error,
    completed_at = CASE WHEN u.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
    updated_at = now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::text[])
     AS u(id, lease_token, status, next_attempt_at, status_code, error)
WHERE d.id = u.id
  AND d.status = 'in_flight'
  AND d.lease_token = u.lease_token
RETURNING d.id, d.subscriber_id, d.ordering_key, d.status;

-- name: release_deliveries
-- Give back claims that were never attempted (shutdown): the attempt is not charged.
UPDATE deliveries
SET status = 'pending', lease_until = NULL, lease_token = NULL,
    attempts = greatest(attempts - 1, 0), total_attempts = greatest(total_attempts - 1, 0),
    updated_at = now()
WHERE id = ANY ($1::text[]) AND status = 'in_flight' AND lease_token = $2
RETURNING id, subscriber_id;

-- name: release_expired_leases
UPDATE deliveries
SET status = 'pending', lease_until = NULL, lease_token = NULL, updated_at = now()
WHERE id IN (SELECT id FROM deliveries
             WHERE status = 'in_flight' AND lease_until < now()
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
RETURNING id, subscriber_id;

-- name: insert_subscriber
-- $1 id, $2 secret, $3 managed_by, then the settings as STORED in store/subscribers.py
-- names them: SubscriberSettings' fields in order, then event_type_likes. A test holds
-- these column lists (and those of update_subscriber, upsert_config_subscriber and the
-- claim) to the Struct.
INSERT INTO subscribers (id, secret, managed_by,
                         name, url, destination, description, sources, event_types,
                         headers, timeout_seconds, max_attempts, backoff_base_seconds,
                         backoff_cap_seconds, max_in_flight, rate_limit_per_second, ordered,
                         https_only, forward_headers, retry_schedule, max_age_seconds,
                         rate_limit_burst, payload_mode, thin_above_bytes, filter, transform,
                         proxy, tls,
                         send_traceparent, event_type_likes, filter_path)
VALUES ($1, $2, $3,
        $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
        $22, $23, $24, $25, $26,
        $27, $28, $29,
        $30, $31)
RETURNING *;

-- name: update_subscriber
-- $1 id, $2 state, $3 state_reason, then the settings (see insert_subscriber).
UPDATE subscribers
SET state = $2, state_reason = $3,
    name = $4, url = $5, destination = $6, description = $7, sources = $8,
    event_types = $9, headers = $10, timeout_seconds = $11, max_attempts = $12,
    backoff_base_seconds = $13, backoff_cap_seconds = $14, max_in_flight = $15,
    rate_limit_per_second = $16, ordered = $17, https_only = $18, forward_headers = $19,
    retry_schedule = $20, max_age_seconds = $21, rate_limit_burst = $22, payload_mode = $23,
    thin_above_bytes = $24, filter = $25, transform = $26,
    proxy = $27, tls = $28, send_traceparent = $29,
    event_type_likes = $30, filter_path = $31, updated_at = now()
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
  AND ($6::text IS NULL OR e.source = $6)
  AND ($7::text IS NULL OR e.event_type LIKE $7)
  AND ($8::timestamptz IS NULL OR e.received_at >= $8)
  AND ($9::timestamptz IS NULL OR e.received_at < $9)
ORDER BY d.id
LIMIT $5;

-- name: list_attempts
SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt, id;

-- name: get_event
SELECT * FROM events WHERE id = $1;

-- name: current_revision
SELECT version_num FROM alembic_version;

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = $1;

-- name: event_sources
-- The sources events are stored under, in order: a loose scan, one descent of an index
-- led by the source for each (PostgreSQL before 18 has no skip scan to do it itself).
WITH RECURSIVE s(source) AS (
    (SELECT source FROM events ORDER BY source LIMIT 1)
  UNION ALL
    SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
    FROM s WHERE s.source IS NOT NULL
)
SELECT source FROM s WHERE source IS NOT NULL;

-- name: list_events
-- $1: the sources to search, or NULL for all. A sender's id ($3) is found through the
-- dedup key (source, external_id), so a search by it names the sources (event_sources).
SELECT id, source, external_id, event_type, ordering_key, received_at, content_type,
       octet_length(body) AS size, trace_id
FROM events
WHERE ($1::text[] IS NULL OR source = ANY ($1))
  AND ($2::text IS NULL OR event_type LIKE $2)
  AND ($3::text IS NULL OR external_id = $3)
  AND ($4::timestamptz IS NULL OR received_at >= $4)
  AND ($5::timestamptz IS NULL OR received_at < $5)
  AND ($6::text IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7;

-- name: claim_idempotency_key
INSERT INTO idempotency_keys (principal, key, method, path, request_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (principal, key) DO NOTHING
RETURNING key;

-- name: get_idempotency_key
SELECT method, path, request_hash, status, content_type, body,
       created_at < now() - make_interval(secs => $3) AS expired
FROM idempotency_keys
WHERE principal = $1 AND key = $2;

-- name: complete_idempotency_key
UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5
WHERE principal = $1 AND key = $2;

-- name: release_idempotency_key
DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL;

-- name: delete_expired_idempotency_key
DELETE FROM idempotency_keys
WHERE principal = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3);

-- Data lifecycle: backlog gauges and retention (gateway/store/maintenance.py).

-- name: backlog_by_subscriber
-- Deliveries queued (ordered, behind the head of their key), pending, in flight and dead
-- for every subscriber ($1 NULL) or one (zeros included), with its state. Each status is
-- a literal, so each count is an index-only range of a partial index (pending:
-- deliveries_due_idx; in flight: deliveries_lease_idx; queued and dead:
-- deliveries_subscriber_status_idx): the cost follows the backlog, never the number of
-- finished deliveries.
SELECT s.id, s.name, s.state, st.status, st.count
FROM subscribers s
CROSS JOIN LATERAL (VALUES
    ('queued', (SELECT count(*) FROM deliveries d
                WHERE d.subscriber_id = s.id AND d.status = 'queued')),
    ('pending', (SELECT count(*) FROM deliveries d
                 WHERE d.subscriber_id = s.id AND d.status = 'pending')),
    ('in_flight', (SELECT count(*) FROM deliveries d
                   WHERE d.subscriber_id = s.id AND d.status = 'in_flight')),
    ('dead', (SELECT count(*) FROM deliveries d
              WHERE d.subscriber_id = s.id AND d.status = 'dead'))
) AS st(status, count)
WHERE $1::text IS NULL OR s.id = $1
ORDER BY s.name, st.status;

-- name: retention_try_lock
-- One retention round at a time across replicas; held by the session, so a crash frees it.
SELECT pg_try_advisory_lock(727376006);

-- name: retention_unlock
SELECT pg_advisory_unlock(727376006);

-- name: retention_lock_timeout
SELECT set_config('lock_timeout', $1, false);

-- name: retention_event_sources
-- The distinct sources of stored events, one index probe each (a loose index scan).
WITH RECURSIVE s AS (
    (SELECT source FROM events ORDER BY source LIMIT 1)
    UNION ALL
    SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
    FROM s
    WHERE s.source IS NOT NULL
)
SELECT source FROM s WHERE source IS NOT NULL;

-- name: retention_delete_attempts
-- One batch of attempts started before $1 whose delivery has ended (succeeded, cancelled or
-- dead), walking (started_at, id) on from ($2, $3). Attempts of deliveries still pending or
-- in flight stay. Returns what was looked at, what went, and where the next batch starts.
-- Every row is found through an index: the scalar subquery runs once per attempt (it is
-- never turned into a hash of all deliveries), and = ANY(ARRAY(…)) deletes by primary key.
WITH scanned AS (
    SELECT a.id, a.started_at,
           (SELECT d.status FROM deliveries d WHERE d.id = a.delivery_id)
               IN ('succeeded', 'cancelled', 'dead') AS expired
    FROM delivery_attempts a
    WHERE a.started_at < $1 AND (a.started_at, a.id) > ($2, $3)
    ORDER BY a.started_at, a.id
    LIMIT $4
    FOR UPDATE OF a SKIP LOCKED
), gone AS (
    DELETE FROM delivery_attempts
    WHERE id = ANY (ARRAY(SELECT id FROM scanned WHERE expired))
    RETURNING 1
), last AS (
    SELECT started_at, id FROM scanned ORDER BY started_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM scanned) AS scanned,
       (SELECT count(*) FROM gone) AS deleted,
       (SELECT started_at FROM last) AS last_at,
       (SELECT id FROM last) AS last_id;

-- name: retention_delete_finished_deliveries
-- One batch of deliveries that succeeded or were cancelled before $1 (their attempts follow),
-- oldest first along deliveries_finished_idx, whatever plan the cutoff would suggest.
WITH doomed AS (
    SELECT id FROM deliveries
    WHERE status IN ('succeeded', 'cancelled') AND coalesce(completed_at, updated_at) < $1
    ORDER BY coalesce(completed_at, updated_at)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM deliveries WHERE id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: retention_delete_dead_deliveries
-- One batch of dead letters that died before $1 (the dead-letter retention), oldest first
-- along deliveries_dead_idx.
WITH doomed AS (
    SELECT id FROM deliveries
    WHERE status = 'dead' AND coalesce(completed_at, updated_at) < $1
    ORDER BY coalesce(completed_at, updated_at)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM deliveries WHERE id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: retention_delete_events
-- One batch of events of source $1 received before $2, walking (received_at, id) on from
-- ($3, $4). An event goes only when every delivery it has is finished: succeeded, cancelled,
-- or dead since before $5 (the dead-letter cutoff); its deliveries and their attempts go
-- with it (the trigger events_delete_deliveries, then ON DELETE CASCADE). Never waits: the
-- finished deliveries of a candidate are locked (SKIP LOCKED) and judged again as they are
-- now, and an event with one that could not be locked (a replay or a settle under way)
-- waits for the next round. Deliveries that are pending or in flight are never locked.
-- Deliveries are reached by event_id only (a LATERAL per event, = ANY(ARRAY(…))), never
-- by a scan of the table.
WITH scanned AS (
    SELECT e.id, e.received_at
    FROM events e
    WHERE e.source = $1 AND e.received_at < $2 AND (e.received_at, e.id) > ($3, $4)
    ORDER BY e.received_at, e.id
    LIMIT $6
    FOR UPDATE OF e SKIP LOCKED
), candidates AS (
    SELECT s.id, v.deliveries
    FROM scanned s
    CROSS JOIN LATERAL (
        SELECT count(*) AS deliveries,
               count(*) FILTER (WHERE NOT (d.status IN ('succeeded', 'cancelled')
                   OR (d.status = 'dead' AND coalesce(d.completed_at, d.updated_at) < $5)))
                   AS unfinished
        FROM deliveries d
        WHERE d.event_id = s.id
    ) v
    WHERE v.unfinished = 0
), held AS (
    SELECT d.event_id,
           d.status IN ('succeeded', 'cancelled')
           OR (d.status = 'dead' AND coalesce(d.completed_at, d.updated_at) < $5) AS expired
    FROM deliveries d
    WHERE d.event_id = ANY (ARRAY(SELECT id FROM candidates))
    FOR UPDATE OF d SKIP LOCKED
), tally AS (
    SELECT event_id, count(*) AS locked, bool_and(expired) AS expired
    FROM held
    GROUP BY event_id
), gone AS (
    DELETE FROM events
    WHERE id = ANY (ARRAY(
        SELECT c.id
        FROM candidates c LEFT JOIN tally t ON t.event_id = c.id
        WHERE coalesce(t.locked, 0) = c.deliveries AND coalesce(t.expired, true)))
    RETURNING 1
), last AS (
    SELECT received_at, id FROM scanned ORDER BY received_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM scanned) AS scanned,
       (SELECT count(*) FROM gone) AS deleted,
       (SELECT received_at FROM last) AS last_at,
       (SELECT id FROM last) AS last_id;

-- Delivery engine: flow control, ordering, dead letters, replay and jobs (store/claim.py,
-- store/settle.py, store/ordering.py, store/flow.py, store/replay.py, store/jobs.py).

-- name: lock_flow
-- Lock subscribers' flow rows, always in id order (the claim does the same): no deadlock.
-- ``state`` is the circuit's state as the Circuit record names it.
SELECT f.*, f.circuit_state AS state, now() AS now
FROM subscriber_flow f
WHERE f.subscriber_id = ANY ($1::text[])
ORDER BY f.subscriber_id
FOR UPDATE;

-- name: write_flow
-- After lock_flow: deliveries no longer in flight, and each circuit as the settler left it.
UPDATE subscriber_flow f
SET in_flight = greatest(f.in_flight - u.finished, 0),
    circuit_state = u.circuit_state,
    opened_at = u.opened_at,
    open_until = u.open_until,
    probe_until = u.probe_until,
    consecutive_failures = u.consecutive_failures,
    window_started_at = u.window_started_at,
    window_attempts = u.window_attempts,
    window_failures = u.window_failures,
    failing_since = u.failing_since,
    throttled_until = u.throttled_until,
    updated_at = now()
FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[],
            $6::timestamptz[], $7::int[], $8::timestamptz[], $9::int[], $10::int[],
            $11::timestamptz[], $12::timestamptz[])
     AS u(subscriber_id, finished, circuit_state, opened_at, open_until, probe_until,
          consecutive_failures, window_started_at, window_attempts, window_failures,
          failing_since, throttled_until)
WHERE f.subscriber_id = u.subscriber_id;

-- name: release_flow
-- After lock_flow: deliveries that left in_flight without an attempt being settled.
UPDATE subscriber_flow f
SET in_flight = greatest(f.in_flight - u.n, 0), updated_at = now()
FROM unnest($1::text[], $2::int[]) AS u(subscriber_id, n)
WHERE f.subscriber_id = u.subscriber_id;

-- name: reset_flow
-- A resumed subscriber starts with a closed circuit and a clean failure record.
UPDATE subscriber_flow
SET circuit_state = 'closed', opened_at = NULL, open_until = NULL, probe_until = NULL,
    consecutive_failures = 0, window_started_at = now(), window_attempts = 0,
    window_failures = 0, failing_since = NULL, throttled_until = NULL, updated_at = now()
WHERE subscriber_id = $1;

-- name: get_subscriber_flow
SELECT subscriber_id, in_flight, circuit_state, open_until, consecutive_failures,
       failing_since, throttled_until
FROM subscriber_flow
WHERE subscriber_id = ANY ($1::text[]);

-- name: subscriber_flow_states
-- Every subscriber's name, state and circuit (the circuit and disabled gauges).
SELECT s.id, s.name, s.state, f.circuit_state
FROM subscribers s
JOIN subscriber_flow f ON f.subscriber_id = s.id;

-- name: subscriber_destinations
-- Where each subscriber delivers (the console's list).
SELECT id, url, destination FROM subscribers;

-- name: disable_subscribers
UPDATE subscribers s
SET state = 'disabled', state_reason = u.reason, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS u(id, reason)
WHERE s.id = u.id AND s.state <> 'disabled'
RETURNING s.id, s.name;

-- name: set_subscriber_state
-- Pause or resume; $3 the states it may change from.
UPDATE subscribers
SET state = $2, state_reason = $4, updated_at = now()
WHERE id = $1 AND state = ANY ($3::text[])
RETURNING *;

-- name: rotate_secret
-- The new secret signs from now on; the old one also signs until $3.
UPDATE subscribers
SET previous_secret = CASE WHEN $3::timestamptz > now() THEN secret END,
    previous_secret_expires_at = CASE WHEN $3::timestamptz > now() THEN $3::timestamptz END,
    secret = $2,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: lock_ordering_keys
-- Lock (subscriber, key) rows in a fixed order before changing their counts.
SELECT k.subscriber_id, k.ordering_key
FROM ordering_keys k
JOIN unnest($1::text[], $2::text[]) AS u(subscriber_id, ordering_key)
  USING (subscriber_id, ordering_key)
ORDER BY k.subscriber_id, k.ordering_key
FOR UPDATE OF k;

-- name: add_to_ordering_keys
-- More unfinished deliveries for these keys (in key order, so locks never cross).
INSERT INTO ordering_keys AS k (subscriber_id, ordering_key, unfinished)
SELECT subscriber_id, ordering_key, n
FROM unnest($1::text[], $2::text[], $3::int[]) AS u(subscriber_id, ordering_key, n)
ORDER BY subscriber_id, ordering_key
ON CONFLICT (subscriber_id, ordering_key)
DO UPDATE SET unfinished = k.unfinished + EXCLUDED.unfinished;

-- name: take_from_ordering_keys
-- After lock_ordering_keys: deliveries of these keys that finished.
UPDATE ordering_keys k
SET unfinished = greatest(k.unfinished - u.n, 0)
FROM unnest($1::text[], $2::text[], $3::int[]) AS u(subscriber_id, ordering_key, n)
WHERE k.subscriber_id = u.subscriber_id AND k.ordering_key = u.ordering_key;

-- name: promote_heads
-- For each key without a head (a pending, in-flight or dead delivery), the oldest queued
-- delivery becomes pending. Run after the keys' rows are locked, in a later statement, so
-- every delivery committed before the lock was taken is seen.
UPDATE deliveries d
SET status = 'pending', updated_at = now()
FROM (
    SELECT (SELECT q.id FROM deliveries q
            WHERE q.subscriber_id = u.subscriber_id AND q.ordering_key = u.ordering_key
              AND q.status = 'queued'
            ORDER BY q.seq
            LIMIT 1) AS id
    FROM unnest($1::text[], $2::text[]) AS u(subscriber_id, ordering_key)
    WHERE NOT EXISTS (SELECT 1 FROM deliveries h
                      WHERE h.subscriber_id = u.subscriber_id
                        AND h.ordering_key = u.ordering_key
                        AND h.status IN ('pending', 'in_flight', 'dead'))
) n
WHERE d.id = n.id AND d.status = 'queued'
RETURNING d.id;

-- name: stranded_ordering_keys
-- Keys whose oldest unfinished delivery is queued: nothing will promote it (a safety net;
-- the upkeep runs promote_heads on them).
SELECT q.subscriber_id, q.ordering_key
FROM (SELECT DISTINCT ON (subscriber_id, ordering_key) subscriber_id, ordering_key, status
      FROM deliveries
      WHERE ordering_key IS NOT NULL AND status IN ('queued', 'pending', 'in_flight', 'dead')
      ORDER BY subscriber_id, ordering_key, seq) q
WHERE q.status = 'queued'
LIMIT $1;

-- name: forget_ordering_keys
-- Keys with nothing unfinished; the row comes back with the next delivery of its key.
DELETE FROM ordering_keys k
USING (SELECT subscriber_id, ordering_key FROM ordering_keys
       WHERE unfinished = 0
       LIMIT $1
       FOR UPDATE SKIP LOCKED) z
WHERE k.subscriber_id = z.subscriber_id AND k.ordering_key = z.ordering_key
  AND k.unfinished = 0;

-- name: lock_deliveries
SELECT id, subscriber_id, ordering_key, status
FROM deliveries
WHERE id = ANY ($1::text[])
ORDER BY id
FOR UPDATE;

-- name: requeue_deliveries
-- Dead, succeeded or cancelled deliveries go again with a fresh set of attempts. One that
-- had finished and has an ordering key joins the back of its key's queue, at the position
-- $2 (numbers from reserve_delivery_seqs, in the order the caller wants them sent).
UPDATE deliveries d
SET status = CASE WHEN d.ordering_key IS NOT NULL AND d.status <> 'dead' THEN 'queued'
                  ELSE 'pending' END,
    seq = CASE WHEN d.ordering_key IS NOT NULL AND d.status <> 'dead' THEN u.seq
               ELSE d.seq END,
    attempts = 0,
    next_attempt_at = now(),
    enqueued_at = now(),
    completed_at = NULL,
    updated_at = now()
FROM unnest($1::text[], $2::bigint[]) AS u(id, seq)
WHERE d.id = u.id AND d.status IN ('dead', 'succeeded', 'cancelled')
RETURNING d.id, d.subscriber_id, d.ordering_key, d.status;

-- name: reserve_delivery_seqs
-- $1 consecutive positions in the deliveries' receipt order, ascending.
SELECT nextval(pg_get_serial_sequence('deliveries', 'seq')) AS seq
FROM generate_series(1, $1);

-- name: discard_deliveries
-- Dead letters (or deliveries not yet sent) are given up: cancelled, never sent.
UPDATE deliveries
SET status = 'cancelled', completed_at = now(), updated_at = now()
WHERE id = ANY ($1::text[]) AND status IN ('queued', 'pending', 'dead')
RETURNING id, subscriber_id, ordering_key;

-- name: insert_replays
-- New deliveries of events to subscribers that never had one (replay, catching up), at
-- the positions $3 (from reserve_delivery_seqs).
INSERT INTO deliveries (id, event_id, subscriber_id, next_attempt_at, enqueued_at,
                        ordering_key, status, seq)
SELECT gateway_id('dlv'), u.event_id, s.id, now(), now(),
       CASE WHEN s.ordered THEN e.ordering_key END,
       CASE WHEN s.ordered AND e.ordering_key IS NOT NULL THEN 'queued' ELSE 'pending' END,
       u.seq
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(event_id, subscriber_id, seq)
JOIN events e ON e.id = u.event_id
JOIN subscribers s ON s.id = u.subscriber_id
FOR KEY SHARE OF e, s  -- until COMMIT: no foreign keys (see insert_events' held)
ON CONFLICT (event_id, subscriber_id) DO NOTHING
RETURNING id, subscriber_id, ordering_key, status;

-- name: event_deliveries
-- The deliveries an event has, and the subscribers that would take it now but have none
-- (their content filter too, as insert_events applies it).
SELECT d.id AS delivery_id, s.id AS subscriber_id
FROM events e
JOIN subscribers s
  ON s.state <> 'disabled'
 AND gateway_takes_source(s.sources, e.source)
 AND (cardinality(s.event_type_likes) = 0
      OR EXISTS (SELECT 1 FROM unnest(s.event_type_likes) AS p(pattern)
                 WHERE e.event_type LIKE p.pattern))
LEFT JOIN deliveries d ON d.event_id = e.id AND d.subscriber_id = s.id
WHERE e.id = $1
  AND (s.filter_path IS NULL
       OR jsonb_path_match(gateway_filter_body(e.body, e.body_view), s.filter_path,
                           gateway_filter_variables(e.event_type, e.source, e.id, e.headers),
                           true))
UNION
SELECT d.id, d.subscriber_id FROM deliveries d WHERE d.event_id = $1;

-- name: filtered_subscribers
-- The subscribers that an event's source and type selected, that existed when it came,
-- and that have a content filter but no delivery of it: their filter refused it (or was
-- changed since). Disabled ones are left out, as the fan-out leaves them out.
SELECT s.id, s.name, s.filter
FROM events e
JOIN subscribers s
  ON s.state <> 'disabled'
 AND s.filter_path IS NOT NULL
 AND s.created_at <= e.received_at
 AND gateway_takes_source(s.sources, e.source)
 AND (cardinality(s.event_type_likes) = 0
      OR EXISTS (SELECT 1 FROM unnest(s.event_type_likes) AS p(pattern)
                 WHERE e.event_type LIKE p.pattern))
WHERE e.id = $1
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.subscriber_id = s.id)
ORDER BY s.name;

-- name: delivery_for_event
SELECT id FROM deliveries WHERE event_id = $1 AND subscriber_id = $2;

-- name: deliveries_of_events
-- One subscriber's deliveries of these events: (event id, delivery id).
SELECT d.event_id, d.id
FROM deliveries d
WHERE d.event_id = ANY ($1::text[]) AND d.subscriber_id = $2;

-- name: count_dead_letters
SELECT count(*)
FROM deliveries d
JOIN events e ON e.id = d.event_id
WHERE d.status = 'dead'
  AND ($1::text IS NULL OR d.subscriber_id = $1)
  AND ($2::text IS NULL OR e.source = $2)
  AND ($3::text IS NULL OR e.event_type LIKE $3)
  AND ($4::timestamptz IS NULL OR e.received_at >= $4)
  AND ($5::timestamptz IS NULL OR e.received_at < $5);

-- name: retry_dead_letters
-- One batch of a bulk retry: dead letters matching the filter after id $6, in id order.
WITH batch AS (
    SELECT d.id
    FROM deliveries d
    JOIN events e ON e.id = d.event_id
    WHERE d.status = 'dead'
      AND ($1::text IS NULL OR d.subscriber_id = $1)
      AND ($2::text IS NULL OR e.source = $2)
      AND ($3::text IS NULL OR e.event_type LIKE $3)
      AND ($4::timestamptz IS NULL OR e.received_at >= $4)
      AND ($5::timestamptz IS NULL OR e.received_at < $5)
      AND d.id > $6
    ORDER BY d.id
    LIMIT $7
    FOR UPDATE OF d
), retried AS (
    UPDATE deliveries d
    SET status = 'pending', attempts = 0, next_attempt_at = now(), enqueued_at = now(),
        completed_at = NULL, updated_at = now()
    FROM batch b
    WHERE d.id = b.id AND d.status = 'dead'
    RETURNING d.id
)
SELECT (SELECT max(id) FROM batch) AS last_id,
       (SELECT count(*) FROM batch) AS scanned,
       (SELECT count(*) FROM retried) AS retried;

-- name: count_source_events
SELECT count(*)
FROM events
WHERE source = $1
  AND ($2::timestamptz IS NULL OR received_at >= $2)
  AND ($3::timestamptz IS NULL OR received_at < $3);

-- name: source_events_page
-- One page of a source's events in a time range, in receipt order, after ($4, $5).
SELECT id, received_at, seq
FROM events
WHERE source = $1
  AND ($2::timestamptz IS NULL OR received_at >= $2)
  AND ($3::timestamptz IS NULL OR received_at < $3)
  AND (received_at, seq) > ($4::timestamptz, $5::bigint)
ORDER BY received_at, seq
LIMIT $6;

-- name: insert_job
INSERT INTO jobs (id, kind, params, total)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: get_job
SELECT * FROM jobs WHERE id = $1;

-- name: list_jobs
SELECT * FROM jobs
WHERE ($1::text IS NULL OR id < $1)
ORDER BY id DESC
LIMIT $2;

-- name: claim_job
-- The oldest queued job, or a running one whose worker stopped renewing its lease.
UPDATE jobs
SET state = 'running', lease_token = $1, lease_until = now() + make_interval(secs => $2),
    started_at = coalesce(started_at, now()), updated_at = now()
WHERE id = (SELECT id FROM jobs
            WHERE state = 'queued' OR (state = 'running' AND lease_until < now())
            ORDER BY created_at
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
RETURNING *;

-- name: advance_job
-- Record one batch's progress and renew the lease; nothing if the lease was lost.
UPDATE jobs
SET done = done + $3, cursor = $4, lease_until = now() + make_interval(secs => $5),
    updated_at = now()
WHERE id = $1 AND lease_token = $2 AND state = 'running'
RETURNING id;

-- name: finish_job
UPDATE jobs
SET state = $3, error = $4, finished_at = now(), lease_token = NULL, lease_until = NULL,
    updated_at = now()
WHERE id = $1 AND lease_token = $2 AND state = 'running'
RETURNING id;

-- name: upsert_config_subscriber
-- A subscriber declared in the config file; never takes over one made through the API.
-- $1 id, $2 secret, then the settings (see insert_subscriber).
INSERT INTO subscribers (id, secret, managed_by,
                         name, url, destination, description, sources, event_types,
                         headers, timeout_seconds, max_attempts, backoff_base_seconds,
                         backoff_cap_seconds, max_in_flight, rate_limit_per_second, ordered,
                         https_only, forward_headers, retry_schedule, max_age_seconds,
                         rate_limit_burst, payload_mode, thin_above_bytes, filter, transform,
                         proxy, tls,
                         send_traceparent, event_type_likes, filter_path)
VALUES ($1, $2, 'config',
        $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
        $21, $22, $23, $24, $25,
        $26, $27, $28,
        $29, $30)
ON CONFLICT (name) DO UPDATE
SET secret = EXCLUDED.secret,
    url = EXCLUDED.url, destination = EXCLUDED.destination,
    description = EXCLUDED.description, sources = EXCLUDED.sources,
    event_types = EXCLUDED.event_types, headers = EXCLUDED.headers,
    timeout_seconds = EXCLUDED.timeout_seconds, max_attempts = EXCLUDED.max_attempts,
    backoff_base_seconds = EXCLUDED.backoff_base_seconds,
    backoff_cap_seconds = EXCLUDED.backoff_cap_seconds,
    max_in_flight = EXCLUDED.max_in_flight,
    rate_limit_per_second = EXCLUDED.rate_limit_per_second, ordered = EXCLUDED.ordered,
    https_only = EXCLUDED.https_only, forward_headers = EXCLUDED.forward_headers,
    retry_schedule = EXCLUDED.retry_schedule, max_age_seconds = EXCLUDED.max_age_seconds,
    rate_limit_burst = EXCLUDED.rate_limit_burst, payload_mode = EXCLUDED.payload_mode,
    thin_above_bytes = EXCLUDED.thin_above_bytes, filter = EXCLUDED.filter,
    transform = EXCLUDED.transform,
    proxy = EXCLUDED.proxy, tls = EXCLUDED.tls, send_traceparent = EXCLUDED.send_traceparent,
    event_type_likes = EXCLUDED.event_type_likes,
    filter_path = EXCLUDED.filter_path,
    state = CASE WHEN subscribers.state_reason = 'removed from the config file'
                 THEN 'active' ELSE subscribers.state END,
    state_reason = CASE WHEN subscribers.state_reason = 'removed from the config file'
                        THEN NULL ELSE subscribers.state_reason END,
    updated_at = now()
WHERE subscribers.managed_by = 'config'
RETURNING id;

-- name: disable_removed_config_subscribers
UPDATE subscribers
SET state = 'disabled', state_reason = 'removed from the config file', updated_at = now()
WHERE managed_by = 'config' AND NOT (name = ANY ($1::text[])) AND state <> 'disabled'
RETURNING name;

-- name: list_sources
SELECT name, spec, managed_by, created_at, updated_at FROM sources ORDER BY name;

-- name: get_source
SELECT name, spec, managed_by, created_at, updated_at FROM sources WHERE name = $1;

-- name: insert_source
INSERT INTO sources (name, spec, managed_by) VALUES ($1, $2, 'api')
RETURNING name, spec, managed_by, created_at, updated_at;

-- name: update_source
UPDATE sources SET spec = $2, updated_at = now()
WHERE name = $1 AND managed_by = 'api'
RETURNING name, spec, managed_by, created_at, updated_at;

-- name: delete_source
DELETE FROM sources WHERE name = $1 AND managed_by = 'api' RETURNING name;

-- name: upsert_config_source
INSERT INTO sources (name, spec, managed_by) VALUES ($1, $2, 'config')
ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, managed_by = 'config', updated_at = now()
WHERE sources.spec IS DISTINCT FROM EXCLUDED.spec OR sources.managed_by <> 'config';

-- name: delete_removed_config_sources
DELETE FROM sources WHERE managed_by = 'config' AND NOT (name = ANY ($1::text[]));

-- name: subscriber_attempt_stats
SELECT count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'success') AS succeeded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY a.duration_ms) AS p99_ms
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE d.subscriber_id = $1 AND a.started_at >= now() - make_interval(secs => $2);

-- name: subscriber_circuit
SELECT circuit_state, open_until, consecutive_failures, failing_since
FROM subscriber_flow WHERE subscriber_id = $1;

-- name: console_activity
-- Per minute over the last $1 minutes (the current one included): events received,
-- delivery attempts and successful ones. Range scans of events_received_at_idx and
-- delivery_attempts_started_at_idx over the window only.
WITH minutes AS (
    SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                           date_trunc('minute', now()), interval '1 minute') AS minute
), received AS (
    SELECT date_trunc('minute', received_at) AS minute, count(*) AS n
    FROM events
    WHERE received_at >= date_trunc('minute', now()) - make_interval(mins => $1 - 1)
    GROUP BY 1
), attempted AS (
    SELECT date_trunc('minute', started_at) AS minute, count(*) AS attempts,
           count(*) FILTER (WHERE outcome = 'success') AS delivered
    FROM delivery_attempts
    WHERE started_at >= date_trunc('minute', now()) - make_interval(mins => $1 - 1)
    GROUP BY 1
)
SELECT m.minute, coalesce(r.n, 0) AS received, coalesce(a.attempts, 0) AS attempts,
       coalesce(a.delivered, 0) AS delivered
FROM minutes m
LEFT JOIN received r ON r.minute = m.minute
LEFT JOIN attempted a ON a.minute = m.minute
ORDER BY m.minute;

-- name: console_statement_timeout
SELECT set_config('statement_timeout', $1, true);

-- name: console_search_bodies
-- Events received since $2 whose raw body contains the bytes of $1 (case-sensitive),
-- newest first: a backward walk of events_received_at_idx, bounded by the window, the
-- limit and the caller's statement timeout.
SELECT id, source, external_id, event_type, ordering_key, received_at, content_type,
       octet_length(body) AS size, trace_id
FROM events
WHERE received_at >= $2 AND position(convert_to($1, 'UTF8') IN body) > 0
  AND ($4::text IS NULL OR source = $4)
  AND ($5::text IS NULL OR event_type LIKE $5)
ORDER BY received_at DESC
LIMIT $3;

-- name: console_event_attempts
SELECT a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.outcome,
       a.error, a.response_snippet, a.transform_version, a.request_url, a.request_bytes,
       a.request_content_type
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE d.event_id = $1
ORDER BY a.started_at, a.id
LIMIT $2;

-- name: console_failure_causes
-- A subscriber's failed attempts over the last $2 seconds, grouped by what went wrong.
SELECT a.outcome, a.status_code, left(coalesce(a.error, ''), 200) AS error,
       count(*) AS n, max(a.started_at) AS last_seen,
       (array_agg(d.event_id ORDER BY a.started_at DESC))[1] AS last_event_id
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE d.subscriber_id = $1 AND a.outcome <> 'success'
  AND a.started_at >= now() - make_interval(secs => $2)
GROUP BY 1, 2, 3
ORDER BY n DESC, last_seen DESC
LIMIT $3;

-- name: console_event_bodies
SELECT id, source, body FROM events WHERE id = ANY($1::text[]);

-- name: revoke_token
-- Revoke a token by its jti; revoking it again keeps the first revocation's time, reason
-- and author, and only ever lengthens how long the row is kept (NULL: for ever).
INSERT INTO revoked_tokens AS r (jti, expires_at, reason, revoked_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (jti) DO UPDATE
SET expires_at = CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
                      ELSE greatest(r.expires_at, EXCLUDED.expires_at) END,
    reason = coalesce(r.reason, EXCLUDED.reason)
RETURNING jti, revoked_at, expires_at, reason, revoked_by;

-- name: revoked_jtis
-- The jtis of revoked tokens that may still be presented: not expired $1 seconds ago.
SELECT jti FROM revoked_tokens
WHERE expires_at IS NULL OR expires_at > now() - make_interval(secs => $1);

-- name: list_revoked_tokens
-- Revocations still in force, newest first, after the one whose jti is $2 (a page's end).
SELECT jti, revoked_at, expires_at, reason, revoked_by FROM revoked_tokens
WHERE (expires_at IS NULL OR expires_at > now() - make_interval(secs => $1))
  AND ($2::text IS NULL
       OR (revoked_at, jti) < (SELECT revoked_at, jti FROM revoked_tokens WHERE jti = $2))
ORDER BY revoked_at DESC, jti DESC
LIMIT $3;

-- name: retention_delete_revoked_tokens
-- One batch of revocations whose token expired before $1: it is refused as expired now.
WITH doomed AS (
    SELECT jti FROM revoked_tokens
    WHERE expires_at < $1
    ORDER BY expires_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM revoked_tokens WHERE jti = ANY (ARRAY(SELECT jti FROM doomed)) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: add_signature_failures
-- Add each source's refused signatures ($1, $2) to the current bucket of $3 seconds
-- (every replica adds its own), and forget the buckets older than $4 seconds.
WITH added AS (
    INSERT INTO signature_failures AS f (source, bucket, failures)
    SELECT u.source, to_timestamp(floor(extract(epoch FROM now()) / $3) * $3), u.failures
    FROM unnest($1::text[], $2::bigint[]) AS u(source, failures)
    ON CONFLICT (source, bucket) DO UPDATE SET failures = f.failures + EXCLUDED.failures
)
DELETE FROM signature_failures WHERE bucket < now() - make_interval(secs => $4);

-- name: signature_failures_within
-- Each source's refused signatures in the buckets that began within the last $1 seconds.
SELECT source, sum(failures)::bigint AS failures
FROM signature_failures
WHERE bucket >= now() - make_interval(secs => $1)
GROUP BY source;

-- name: active_conditions
-- The subjects for which the condition $1 holds now.
SELECT subject FROM operational_states WHERE kind = $1 AND active;

-- name: change_condition
-- Turn condition $1 of subject $2 on or off ($3). Returns the time of the change only to
-- the statement that made it: of replicas that judge alike at once, one is told.
INSERT INTO operational_states AS o (kind, subject, active, since)
VALUES ($1, $2, $3, now())
ON CONFLICT (kind, subject) DO UPDATE SET active = EXCLUDED.active, since = EXCLUDED.since
WHERE o.active <> EXCLUDED.active
RETURNING since;
