"""Cheap statistics on the event table: none kept for the bodies and headers.

ANALYZE of ``events`` read and sorted a sample of every column, the ~1 KB bodies and the
header documents included, though no plan ever depends on them (no query filters on
headers; the body search uses ``position()``, whose estimate no statistic informs). On a
table that grows by thousands of rows a second, autovacuum analyzes it every few
seconds, and those two columns were half of each run's CPU.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE events
    ALTER COLUMN body SET STATISTICS 0,
    ALTER COLUMN headers SET STATISTICS 0;
"""

DOWNGRADE = r"""
ALTER TABLE events
    ALTER COLUMN body SET STATISTICS -1,
    ALTER COLUMN headers SET STATISTICS -1;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
