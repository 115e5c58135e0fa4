"""XML bodies: the JSON view of an XML body, kept with its event.

``events.body_view`` holds the view that filters, transforms, JSON pointers and the API
read of an XML body (gateway/domain/xmlview.py); the body itself stays in ``body`` as it
was received. It is NULL for every other body: those are read as JSON from ``body``.

Adding a nullable column without a default changes only the catalogue.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from gateway.store.script import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE events ADD COLUMN body_view jsonb;
"""

DOWNGRADE = r"""
ALTER TABLE events DROP COLUMN body_view;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
