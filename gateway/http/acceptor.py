"""A listening site that takes every waiting connection whenever the socket has one.

uvloop's servers accept one connection per turn of the event loop (libuv stopped
accepting in a loop: libuv/libuv#3696). On a loop that runs late, that caps how fast
connections are taken: at 10 ms a turn, 100 a second. In a burst, senders' connections
then pile up in the kernel's accept queue, and once it is full the kernel drops new ones,
which their senders retry after 1 s, then 3 s. Requests time out before the gateway ever
reads them, so load shedding (a 503 at once) cannot answer them either.

:class:`GreedySite` listens like aiohttp's ``TCPSite`` but accepts up to ``backlog``
connections each time the listening socket is readable, as the standard library's event
loop does, and hands each to the loop with ``connect_accepted_socket``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

from gateway.http.internals import SiteBase

__all__ = ["GreedySite", "ListenError", "listen"]

log = logging.getLogger("gateway.listen")

RETRY_SECONDS = 1.0
"""How long accepting pauses when accept fails for want of file descriptors or memory."""

_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# What accept(2) reports for a connection that failed before it was taken (the client
# reset it, or the network went away): skip it and take the next.
_GONE = frozenset(
    {
        errno.ECONNABORTED,
        errno.EPROTO,
        errno.EPERM,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENOPROTOOPT,
        errno.EOPNOTSUPP,
    }
)


class ListenError(Exception):
    """A listener cannot take its address; the message is the one line to show."""


def listen(name: str, host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for listener ``name``, bound before anything else starts, so a
    taken port ends start-up at once with one line (and nothing to undo)."""
    try:
        return _bind(host, port, backlog)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"{name}: {host}:{port} is already in use") from None
        reason = exc.strerror or str(exc)
        raise ListenError(f"{name}: cannot listen on {host}:{port}: {reason}") from None


class GreedySite(SiteBase):
    """``TCPSite`` (host, port, TLS, backlog, address reuse) with a greedy accept.

    With ``sockets`` (from :func:`listen`) it serves those instead of binding its own.
    """

    __slots__ = ("_host", "_port", "_sockets")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 1024,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self._sockets = sockets

    @property
    def name(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (the one asked for, unless that was 0)."""
        server = self.server
        if isinstance(server, Acceptor) and server.sockets:
            return int(server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        await super().start()
        sockets = self._sockets or _bind(self._host, self._port, self.backlog)
        acceptor = Acceptor(
            asyncio.get_running_loop(),
            sockets,
            self.protocol_factory(),
            self.ssl_context,
            self.backlog,
        )
        acceptor.start()
        self.serving(acceptor)


class Acceptor(asyncio.AbstractServer):
    """Accepts on ``sockets`` (up to ``batch`` each time one is readable) and serves each
    connection with a protocol from ``factory``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        factory: Callable[[], asyncio.BaseProtocol],
        tls: ssl.SSLContext | None,
        batch: int,
    ) -> None:
        self._loop = loop
        self.sockets = sockets
        self._factory = factory
        self._tls = tls
        self._batch = max(1, batch)
        self._setting_up: set[asyncio.Task[None]] = set()
        self._serving = False

    def start(self) -> None:
        """Watch the sockets."""
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)
        self._serving = True

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._batch):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left waiting
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                # Out of descriptors or memory (or something unforeseen): a pause, and
                # one log line a second at most, rather than a busy loop of failures.
                level = logging.WARNING if exc.errno in _RESOURCES else logging.ERROR
                log.log(level, "not accepting for %g s: %s", RETRY_SECONDS, exc)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(RETRY_SECONDS, self._resume, sock)
                return
            task = self._loop.create_task(self._set_up(conn))
            self._setting_up.add(task)
            task.add_done_callback(self._setting_up.discard)

    def _resume(self, sock: socket.socket) -> None:
        if self._serving:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def _set_up(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._loop.connect_accepted_socket(self._factory, conn, ssl=self._tls)
        except asyncio.CancelledError:
            _close(conn)
            raise
        except (OSError, ValueError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.debug("connection not set up: %s", exc)
            _close(conn)

    def close(self) -> None:
        """Stop accepting and close the listening sockets; served connections stay."""
        if not self._serving:
            return
        self._serving = False
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in self._setting_up:
            task.cancel()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        return None  # serving from start()

    async def serve_forever(self) -> None:
        raise NotImplementedError("the runner serves; this only accepts")

    async def wait_closed(self) -> None:
        if self._setting_up:
            await asyncio.gather(*self._setting_up, return_exceptions=True)


def _close(conn: socket.socket) -> None:
    """Close ``conn`` unless a transport that took it closed (or detached) it already."""
    if conn.fileno() != -1:
        conn.close()


def _bind(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` has, as ``loop.create_server`` binds
    them (address reuse; IPv6 sockets only for IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
