"""Revoked API tokens: the ``jti`` of every token refused before its expiry.

Every replica reads the rows whose token has not expired yet into memory and refreshes
them every few seconds; retention deletes a row an hour after its token expired.
``expires_at`` is NULL when the revocation was given a bare ``jti`` without the token's
expiry: such a row is kept until it is deleted by hand.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE revoked_tokens (
    jti text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 256),
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    reason text CHECK (length(reason) <= 500),
    revoked_by text NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);
"""

DOWNGRADE = r"""
DROP TABLE revoked_tokens;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
