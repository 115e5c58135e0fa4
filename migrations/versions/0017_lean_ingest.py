"""A cheaper insert of an event and its deliveries (the ingest's cost in PostgreSQL).

``gateway_id``: the 16 random hex digits of a delivery's id come from the backend's
pseudo-random generator (``random()``, seeded from the strong source when the backend
starts) instead of ``md5(gen_random_uuid())``, which reads the strong source once a row:
on a build without OpenSSL, as the embedded one is, that is an open, a read and a close
of /dev/urandom for every delivery. Ids are names, not secrets (thin payloads' links are
signed), and 64 random bits behind a millisecond keep them as unique as before.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE OR REPLACE FUNCTION gateway_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL RESTRICTED AS $$
  SELECT prefix || '_'
      || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
      || lpad(to_hex(floor(random() * 4294967296)::bigint), 8, '0')
      || lpad(to_hex(floor(random() * 4294967296)::bigint), 8, '0')
$$;
"""

DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION gateway_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT prefix || '_'
      || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
      || substr(md5(gen_random_uuid()::text), 1, 16)
$$;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
