"""Trace ids: a traced event's trace context, and whether a subscriber is sent it.

``events.trace_id`` and ``events.trace_span_id`` (hex, W3C sizes) name the trace an event
was sampled into and its ingest span, so that every delivery attempt, by any process, is
a child of that span in the same trace; NULL for events not traced (tracing off, or not
sampled). ``subscribers.send_traceparent``: whether deliveries to the subscriber carry a
``traceparent`` header naming their attempt's span (on unless turned off).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE events
    ADD COLUMN trace_id text,
    ADD COLUMN trace_span_id text;
ALTER TABLE subscribers ADD COLUMN send_traceparent boolean NOT NULL DEFAULT true;
"""

DOWNGRADE = r"""
ALTER TABLE subscribers DROP COLUMN send_traceparent;
ALTER TABLE events DROP COLUMN trace_id, DROP COLUMN trace_span_id;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
