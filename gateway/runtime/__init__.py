"""Start and stop a gateway process: listeners bound first, services on one stack, signals."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket

from gateway import __version__
from gateway.config import Config
from gateway.delivery.egress import Egress
from gateway.http.acceptor import ListenError, listen
from gateway.ingress.listener import ingress_ssl_context
from gateway.ingress.source import build_sources
from gateway.lifecycle.services import Services, StartupError
from gateway.runtime.database import open_database
from gateway.runtime.reconcile import check_broker_libraries, check_declared_destinations
from gateway.runtime.services import BACKLOG, Role, early_answers, start
from gateway.runtime.tracing import check_tracing
from gateway.store import StoreError

__all__ = ["ListenError", "Role", "StartupError", "early_answers", "open_database", "run", "serve"]

log = logging.getLogger("gateway")

STARTUP_FAILURES = (StoreError, OSError)
"""What a service may meet starting that is no defect of this program: the database
refusing (too many connections for its role, a query it cannot run), the system refusing
an address or a file. Each ends start-up with one line naming the service."""


def _bind_listeners(config: Config, role: Role) -> dict[str, list[socket.socket]]:
    """The listeners' sockets, bound first of all: a taken port is a :class:`ListenError`
    before the database is touched or anything runs."""
    wanted = [("admin", config.admin.host, config.admin.port)]
    if role in ("all", "ingress"):
        wanted.insert(0, ("ingress", config.ingress.host, config.ingress.port))
    bound: dict[str, list[socket.socket]] = {}
    try:
        for name, host, port in wanted:
            bound[name] = listen(name, host, port, BACKLOG)
    except ListenError:
        _close_sockets(bound)
        raise
    return bound


def _close_sockets(bound: dict[str, list[socket.socket]]) -> None:
    for sockets in bound.values():
        for sock in sockets:
            sock.close()


async def serve(config: Config, role: Role, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then shut down in order without losing anything.

    Raises :class:`ListenError` when a listener's address is taken, having started
    nothing, and :class:`StartupError` when a service cannot start, having stopped every
    one started before it (gateway/runtime/services.py says in which order).
    """
    sources = build_sources(config)  # a ConfigError for a secret its scheme cannot use
    check_declared_destinations(config)
    check_broker_libraries(config)
    Egress(config.egress, config.source_file)  # a ConfigError for a TLS file it cannot use
    check_tracing(config)
    tls = ingress_ssl_context(config) if role in ("all", "ingress") else None
    bound = _bind_listeners(config, role)
    try:
        async with Services(STARTUP_FAILURES) as services:
            await start(services, config, role, sources, tls, bound)
            # What start-up made lives until the end: take it out of the collector's
            # sight, so a full collection (a pause every request in flight waits for)
            # stays short.
            gc.collect()
            gc.freeze()
            log.info("webhook-gateway %s serving (role %s)", __version__, role)
            await stop.wait()
            log.info("shutting down")
    finally:
        _close_sockets(bound)  # closed already once served; not if start-up failed
    log.info("stopped")


def run(config: Config, role: Role) -> None:
    """Blocking entry point of ``webhook-gateway serve``: uvloop, signal handling."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, role, stop)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(main())
    else:
        uvloop.run(main())
