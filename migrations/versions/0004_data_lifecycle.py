"""Data lifecycle: the indexes retention walks, so each batch reads only what it removes.

- events by (source, received_at, id): one pass per source with its own retention, resumed
  from the last row looked at (rows kept for a pending or dead delivery are read once a
  round, not once a batch);
- finished deliveries, and dead letters, by the time they ended (partial: the backlog is
  in neither), so a batch reads them oldest first and stops at the cutoff;
- attempts by (started_at, id), resumed the same way.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE INDEX events_source_received_at_idx ON events (source, received_at, id);
CREATE INDEX deliveries_finished_idx ON deliveries ((coalesce(completed_at, updated_at)))
    WHERE status IN ('succeeded', 'cancelled');
CREATE INDEX deliveries_dead_idx ON deliveries ((coalesce(completed_at, updated_at)))
    WHERE status = 'dead';
CREATE INDEX delivery_attempts_started_at_idx ON delivery_attempts (started_at, id);
"""

DOWNGRADE = r"""
DROP INDEX delivery_attempts_started_at_idx;
DROP INDEX deliveries_dead_idx;
DROP INDEX deliveries_finished_idx;
DROP INDEX events_source_received_at_idx;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
