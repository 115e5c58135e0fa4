"""Transforms: a subscriber's JavaScript, and what each attempt ran and sent.

``subscribers.transform`` holds the transform as the subscriber's settings name it
(``{"language", "source", "version"}``; NULL: none). Each attempt records the version
of the transform it ran, and, when one ran, the request it made: its URL (a transform
may add a path or a query), its body's size and content type. Adding nullable columns
without defaults changes only the catalogue.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from gateway.store.script import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE subscribers ADD COLUMN transform jsonb;
ALTER TABLE delivery_attempts
    ADD COLUMN transform_version text,
    ADD COLUMN request_url text,
    ADD COLUMN request_bytes integer,
    ADD COLUMN request_content_type text;
"""

DOWNGRADE = r"""
ALTER TABLE delivery_attempts
    DROP COLUMN transform_version,
    DROP COLUMN request_url,
    DROP COLUMN request_bytes,
    DROP COLUMN request_content_type;
ALTER TABLE subscribers DROP COLUMN transform;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
