"""Admin API: API-managed sources, idempotency keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE sources (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,
    managed_by  text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
    principal     text NOT NULL,
    key           text NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    request_hash  text NOT NULL,
    status        integer,
    content_type  text,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE INDEX events_external_id_idx ON events (external_id);
"""

DOWNGRADE = r"""
DROP INDEX events_external_id_idx;
DROP TABLE idempotency_keys;
DROP TABLE sources;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
