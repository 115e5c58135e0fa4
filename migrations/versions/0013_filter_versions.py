"""Filter versions: which version of a subscriber's filter the ingress judged an event by.

The ingress judges events by the content filters it has compiled, and the fan-out
(``insert_events``) takes its verdict for a subscriber only when the subscriber's
``filter_version`` is still the version it compiled; else it evaluates ``filter_path``
itself. A new subscriber takes a new version from the sequence, and so does one whose
filter or sources change: a verdict made by the filter before the change is never taken.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE SEQUENCE subscriber_filter_versions;
ALTER TABLE subscribers
    ADD COLUMN filter_version bigint NOT NULL DEFAULT nextval('subscriber_filter_versions');
ALTER SEQUENCE subscriber_filter_versions OWNED BY subscribers.filter_version;

CREATE FUNCTION gateway_next_filter_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.filter_version := nextval('subscriber_filter_versions');
    RETURN NEW;
END
$$;

-- jsonpath has no equality: its text says the same.
CREATE TRIGGER subscribers_filter_version BEFORE UPDATE ON subscribers FOR EACH ROW
WHEN (OLD.filter IS DISTINCT FROM NEW.filter
      OR OLD.filter_path::text IS DISTINCT FROM NEW.filter_path::text
      OR OLD.sources IS DISTINCT FROM NEW.sources)
EXECUTE FUNCTION gateway_next_filter_version();
"""

DOWNGRADE = r"""
DROP TRIGGER subscribers_filter_version ON subscribers;
DROP FUNCTION gateway_next_filter_version();
ALTER TABLE subscribers DROP COLUMN filter_version;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
