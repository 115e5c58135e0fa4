"""Replay window: an event's type and body, remembered against replays under a new id.

Shopify, WooCommerce, GitHub and the generic ``hmac`` scheme sign the body alone, so a
captured request verifies again under any event id a header carries. For sources with a
replay window, ``events.replay_digest`` holds SHA-256 of the event type and the body,
and a unique index on (source, replay_digest) makes a second copy a duplicate in the
insert statement itself, as (source, external_id) does for a second copy of an id.
Other sources leave it NULL, which the partial index does not hold.

Adding a nullable column without a default changes only the catalogue. The index is
built with CREATE INDEX CONCURRENTLY, outside the migration's transaction: a plain
build holds every insert into ``events`` for one pass over the table (bodies and all),
and ingest would answer 503 until it ended. Built concurrently it waits for the
transactions under way and lets ingest go on; a failed build leaves an invalid index
behind, which the next run drops before it builds again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op

from gateway.store.script import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ADD_COLUMN = "ALTER TABLE events ADD COLUMN IF NOT EXISTS replay_digest bytea;"
DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS events_source_replay_digest_key;"
BUILD_INDEX = """
CREATE UNIQUE INDEX CONCURRENTLY events_source_replay_digest_key
    ON events (source, replay_digest) WHERE replay_digest IS NOT NULL;
"""

DOWNGRADE = "ALTER TABLE events DROP COLUMN replay_digest;"  # its index goes with it


def upgrade() -> None:
    execute_script(ADD_COLUMN)
    with op.get_context().autocommit_block():  # each statement on its own, no transaction
        execute_script(DROP_INDEX)
        execute_script(BUILD_INDEX)


def downgrade() -> None:
    execute_script(DOWNGRADE)
