"""A cheaper insert of an event and its deliveries (the ingest's cost in PostgreSQL).

``gateway_id``: the 16 random hex digits of a delivery's id come from the backend's
pseudo-random generator (``random()``, seeded from the strong source when the backend
starts) instead of ``md5(gen_random_uuid())``, which reads the strong source once a row:
on a build without OpenSSL, as the embedded one is, that is an open, a read and a close
of /dev/urandom for every delivery. Ids are names, not secrets (thin payloads' links are
signed), and 64 random bits behind a millisecond keep them as unique as before.

``deliveries`` loses its foreign keys to ``events`` and ``subscribers``: their check ran a
query and locked the row it found for every delivery inserted (a fifth of PostgreSQL's
time in the ingest, and a WAL record an event for locking a row the same statement had
just inserted). What they did is kept otherwise:

- Deleting events or subscribers deletes their deliveries (and so their attempts), as
  ``ON DELETE CASCADE`` did: one statement-level trigger on each, reaching the
  deliveries by ``= ANY(ARRAY(...))`` of the deleted ids (never a scan of the table for
  events). The gateway deletes in READ COMMITTED, where that statement sees deliveries
  committed up to it, as the cascade did.
- No delivery outlives its event or subscriber: the statements that insert deliveries
  lock the rows they refer to (``FOR KEY SHARE``, as the check did), except the events
  the fan-out inserts itself; a deletion waits for them, and one that came first leaves
  them nothing to insert (where the check failed the statement).

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

ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_event_id_fkey,
    DROP CONSTRAINT deliveries_subscriber_id_fkey;

CREATE FUNCTION gateway_delete_deliveries_of_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM deliveries WHERE event_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END
$$;

CREATE TRIGGER events_delete_deliveries AFTER DELETE ON events
REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION gateway_delete_deliveries_of_events();

CREATE FUNCTION gateway_delete_deliveries_of_subscribers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM deliveries WHERE subscriber_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END
$$;

CREATE TRIGGER subscribers_delete_deliveries AFTER DELETE ON subscribers
REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION gateway_delete_deliveries_of_subscribers();
"""

DOWNGRADE = r"""
DROP TRIGGER subscribers_delete_deliveries ON subscribers;
DROP FUNCTION gateway_delete_deliveries_of_subscribers();
DROP TRIGGER events_delete_deliveries ON events;
DROP FUNCTION gateway_delete_deliveries_of_events();
DELETE FROM deliveries d
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)
   OR NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = d.subscriber_id);
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES events (id) ON DELETE CASCADE,
    ADD CONSTRAINT deliveries_subscriber_id_fkey FOREIGN KEY (subscriber_id)
        REFERENCES subscribers (id) ON DELETE CASCADE;

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
