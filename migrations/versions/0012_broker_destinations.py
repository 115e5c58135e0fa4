"""Broker destinations: a subscriber delivers over HTTP to its URL, or into a broker.

``subscribers.destination`` holds a broker destination as the subscriber's settings name
it (``{"kind": "amqp", "broker", "exchange", "routing_key"}`` or ``{"kind": "sqs",
"broker", "queue_url"}``); ``url`` becomes nullable, and a check keeps exactly one of
the two set. Every existing subscriber has a URL, so the check holds as it is added.
Going back drops the subscribers that deliver into a broker (and, through their foreign
keys, their deliveries): an older gateway could not send them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE subscribers
    ADD COLUMN destination jsonb,
    ALTER COLUMN url DROP NOT NULL,
    ADD CONSTRAINT subscribers_url_or_destination
        CHECK ((url IS NULL) <> (destination IS NULL));
"""

DOWNGRADE = r"""
DELETE FROM subscribers WHERE destination IS NOT NULL;
ALTER TABLE subscribers
    DROP CONSTRAINT subscribers_url_or_destination,
    ALTER COLUMN url SET NOT NULL,
    DROP COLUMN destination;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
