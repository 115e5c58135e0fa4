"""One index on the sender's event id, not two (the ingest's cost in PostgreSQL).

``events`` held two b-trees on ``external_id``: the dedup key ``(source, external_id)``
and ``events_external_id_idx`` on ``external_id`` alone, for the API's and the console's
lookup by a sender's id without a source. Every event inserted one entry into each (74 MB
a million events for the second; with ids that land anywhere in it, as real senders'
UUIDs do, a full-page image in the WAL for each leaf first touched after a checkpoint).

That lookup now uses the dedup key: the sources are found first, one index descent each
(``event_sources`` in queries.sql, a loose scan: PostgreSQL before 18 has no skip scan
to do it itself), then one descent a source for the id.

The index is dropped with DROP INDEX CONCURRENTLY, outside the migration's transaction: a
plain drop takes an exclusive lock on ``events``, which holds the ingest's inserts behind
any query of the table under way. A downgrade builds it again, concurrently too.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from alembic import op

from gateway.store.script import execute_script

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS events_external_id_idx;"
BUILD_INDEX = "CREATE INDEX CONCURRENTLY events_external_id_idx ON events (external_id);"


def upgrade() -> None:
    with op.get_context().autocommit_block():  # CONCURRENTLY runs outside a transaction
        execute_script(DROP_INDEX)


def downgrade() -> None:
    with op.get_context().autocommit_block():  # a failed build left an invalid index: rebuilt
        execute_script(DROP_INDEX)
        execute_script(BUILD_INDEX)
