"""Egress: the proxy and the TLS profile a subscriber's deliveries leave through.

Each column holds a name from the config file's ``[egress]`` section (``[[egress.proxies]]``,
``[[egress.tls]]``), or ``direct`` for ``proxy``; NULL takes ``[egress] proxy`` and the
system's TLS defaults. The proxy's address and the TLS files are in the config file only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from gateway.store.script import execute_script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE subscribers
    ADD COLUMN proxy text,
    ADD COLUMN tls   text;
"""

DOWNGRADE = r"""
ALTER TABLE subscribers
    DROP COLUMN proxy,
    DROP COLUMN tls;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
