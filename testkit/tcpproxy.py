"""A TCP proxy in front of PostgreSQL that a test can cut, stall and restore (a network
fault; a server that takes connections and answers nothing)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit


class FaultProxy:
    """Listens on 127.0.0.1; forwards to the server of ``upstream_url`` (TCP or Unix socket)."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        parts = urlsplit(upstream_url)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        self.unix_path = (
            f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir.startswith("/") else None
        )
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._accepting: set[asyncio.Task[object]] = set()
        self.cut = False

    @property
    def url(self) -> str:
        """The upstream URL, rewritten to go through the proxy."""
        parts = urlsplit(self.upstream_url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}", query=""))

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        self._writers.add(writer)  # a stalled one is cut too
        waiting = asyncio.current_task()
        assert waiting is not None
        self._accepting.add(waiting)
        try:
            await self._flowing.wait()
        finally:
            self._accepting.discard(waiting)
        if self.cut:
            return
        try:
            if self.unix_path:
                up_reader, up_writer = await asyncio.open_unix_connection(self.unix_path)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        dst.close()
        self._writers.discard(dst)

    def sever(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        """Keep every connection open, and new ones coming, but pass nothing either way."""
        self._flowing.clear()

    def restore(self) -> None:
        self.cut = False
        self._flowing.set()

    async def stop(self) -> None:
        self.sever()
        waiting = [*self._pipes, *self._accepting]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
