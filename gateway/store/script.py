"""Run a multi-statement SQL script inside an alembic migration's transaction.

The asyncpg dialect prepares every statement, and a prepared statement holds one
command; the driver's own ``execute`` without arguments sends the script as a whole.
"""

from __future__ import annotations

from typing import Any

__all__ = ["execute_script"]


def execute_script(sql: str) -> None:
    from alembic import op
    from sqlalchemy.util import await_only

    raw: Any = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))
