"""Initial schema: subscribers, events, deliveries, delivery attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION gateway_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT prefix || '_'
      || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
      || substr(md5(gen_random_uuid()::text), 1, 16)
$$;

CREATE TABLE subscribers (
    id                          text PRIMARY KEY,
    name                        text NOT NULL,
    url                         text NOT NULL,
    description                 text,
    secret                      text NOT NULL,
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    sources                     text[] NOT NULL DEFAULT '{}',
    event_types                 text[] NOT NULL DEFAULT '{}',
    event_type_likes            text[] NOT NULL DEFAULT '{}',
    headers                     jsonb NOT NULL DEFAULT '{}',
    timeout_seconds             double precision,
    max_attempts                integer,
    backoff_base_seconds        double precision,
    backoff_cap_seconds         double precision,
    max_in_flight               integer,
    rate_limit_per_second       double precision,
    ordered                     boolean NOT NULL DEFAULT false,
    state                       text NOT NULL DEFAULT 'active'
                                CHECK (state IN ('active', 'paused', 'disabled')),
    state_reason                text,
    managed_by                  text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscribers_name_key UNIQUE (name)
);

CREATE TABLE events (
    id            text PRIMARY KEY,
    source        text NOT NULL,
    external_id   text NOT NULL,
    event_type    text,
    ordering_key  text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    content_type  text,
    headers       jsonb NOT NULL DEFAULT '{}',
    body          bytea NOT NULL,
    CONSTRAINT events_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX events_received_at_idx ON events (received_at);

CREATE TABLE deliveries (
    id                text PRIMARY KEY,
    event_id          text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscriber_id     text NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'in_flight', 'succeeded', 'dead', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0,
    total_attempts    integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,
    lease_token       text,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    CONSTRAINT deliveries_event_subscriber_key UNIQUE (event_id, subscriber_id),
    CONSTRAINT deliveries_lease_consistent
        CHECK ((status = 'in_flight') = (lease_token IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_status_id_idx ON deliveries (status, id);
CREATE INDEX deliveries_subscriber_status_idx ON deliveries (subscriber_id, status, id);

CREATE TABLE delivery_attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id       text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt           integer NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_ms       double precision NOT NULL,
    status_code       integer,
    outcome           text NOT NULL,
    error             text,
    response_snippet  text
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, attempt);
"""

DOWNGRADE = r"""
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE subscribers;
DROP FUNCTION gateway_id(text);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
