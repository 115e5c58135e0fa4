"""Filters on content: a subscriber's filter as written, and compiled to a SQL/JSON path.

The fan-out (``insert_events``) evaluates ``filter_path`` with ``jsonb_path_match`` over
the event's body, with its headers, type, source and id as variables
(``gateway_filter_variables``). The body is read by ``gateway_filter_body``: the JSON
view of a body that is not JSON itself (``body_view``), else the body as ``jsonb``, else
``null``: a body PostgreSQL cannot read as JSON never fails the statement that stores
it. ``gateway/domain/filters/document.py`` builds the same document in Python.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from gateway.store.script import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE subscribers ADD COLUMN filter jsonb, ADD COLUMN filter_path jsonpath;

CREATE FUNCTION gateway_filter_body(body bytea, body_view jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF body_view IS NOT NULL THEN
        RETURN body_view;
    END IF;
    BEGIN
        RETURN coalesce(convert_from(body, 'UTF8')::jsonb, 'null');
    EXCEPTION WHEN others THEN  -- not UTF-8, not JSON, or JSON that jsonb cannot hold
        RETURN 'null';
    END;
END
$$;

CREATE FUNCTION gateway_filter_variables(event_type text, source text, id text, headers jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object('type', event_type, 'source', source, 'id', id, 'headers', headers)
$$;
"""

DOWNGRADE = r"""
DROP FUNCTION gateway_filter_variables(text, text, text, jsonb);
DROP FUNCTION gateway_filter_body(bytea, jsonb);
ALTER TABLE subscribers DROP COLUMN filter_path, DROP COLUMN filter;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
