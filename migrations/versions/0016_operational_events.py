"""Operational events: the built-in source ``gateway`` taken only by name, and the state of
the conditions that count over every replica.

``gateway_takes_source`` is the fan-out's one rule for which sources a subscriber takes:
those it names, or, when it names none, every source but ``gateway``
(gateway/domain/operational.py): a subscriber of every source does not start receiving
the gateway's events about itself.

``signature_failures`` holds each source's count of refused signatures per time bucket,
added to by every ingress replica; ``operational_states`` whether a condition (a source's
signature failures spiking) holds, and since when. The replica whose statement changes it
tells of the change: one event per change, whichever replicas see it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION gateway_takes_source(sources text[], source text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT source = ANY (sources) OR (cardinality(sources) = 0 AND source <> 'gateway')
$$;

CREATE TABLE signature_failures (
    source    text NOT NULL,
    bucket    timestamptz NOT NULL,
    failures  bigint NOT NULL,
    PRIMARY KEY (source, bucket)
);

CREATE TABLE operational_states (
    kind     text NOT NULL,
    subject  text NOT NULL,
    active   boolean NOT NULL,
    since    timestamptz NOT NULL,
    PRIMARY KEY (kind, subject)
);
"""

DOWNGRADE = r"""
DROP TABLE operational_states;
DROP TABLE signature_failures;
DROP FUNCTION gateway_takes_source(text[], text);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
