"""Lean delivery indexes: a delivery's hot path writes fewer index entries.

An UPDATE that changes an indexed column (``status`` is one) writes a new entry into
every index whose predicate the new row matches. Each delivery goes pending, in flight,
succeeded; with the two status indexes over every row, its claim and its settlement
each wrote five entries. Both status indexes now hold only the statuses a delivery
rests in (queued, pending, dead, cancelled), which are what listings and the backlog
gauges look up by status:

- in flight: the lease index, now by subscriber first, so the backlog counts it per
  subscriber from the index alone; the lease sweep reads this small index whole;
- succeeded: the bulk of the table, listed by walking the primary key or, when few,
  through ``deliveries_finished_idx``.

A claim and a settlement now write three entries each (primary key, the event and
subscriber key, and the lease or finished index).

The indexes are built in the migration's transaction: the build holds writes to
``deliveries`` for as long as one pass over the table takes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from gateway.store.script import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = r"""
DROP INDEX deliveries_status_id_idx;
DROP INDEX deliveries_subscriber_status_idx;
DROP INDEX deliveries_lease_idx;
CREATE INDEX deliveries_status_id_idx ON deliveries (status, id)
    WHERE status IN ('queued', 'pending', 'dead', 'cancelled');
CREATE INDEX deliveries_subscriber_status_idx ON deliveries (subscriber_id, status, id)
    WHERE status IN ('queued', 'pending', 'dead', 'cancelled');
CREATE INDEX deliveries_lease_idx ON deliveries (subscriber_id, lease_until)
    WHERE status = 'in_flight';
"""

DOWNGRADE = r"""
DROP INDEX deliveries_status_id_idx;
DROP INDEX deliveries_subscriber_status_idx;
DROP INDEX deliveries_lease_idx;
CREATE INDEX deliveries_status_id_idx ON deliveries (status, id);
CREATE INDEX deliveries_subscriber_status_idx ON deliveries (subscriber_id, status, id);
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'in_flight';
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
