"""Start and stop a gateway process: database, writer, dispatcher, listeners, signals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiohttp import web

from gateway import __version__
from gateway.api.auth import Authenticator
from gateway.api.health import HealthState
from gateway.api.payloads import PayloadState
from gateway.api.revocation import RevokedTokens
from gateway.api.state import ApiState
from gateway.config import Config, IngressConfig
from gateway.delivery.client import OutboundClient
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.links import PayloadLinks
from gateway.delivery.ssrf import AddressPolicy
from gateway.http.acceptor import GreedySite, ListenError, listen
from gateway.http.closing import ClosingRunner
from gateway.ingress.early import AnswerEarly
from gateway.ingress.fastpath import FastIngest
from gateway.ingress.listener import ingress_ssl_context
from gateway.ingress.looplag import LoopLag
from gateway.ingress.registry import SourceRegistry
from gateway.ingress.routes import IngressState
from gateway.ingress.shedding import EarlyRefusal
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.source import Source, build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.maintenance.backlog import BacklogMonitor
from gateway.maintenance.retention import Retention
from gateway.observability import Metrics
from gateway.runtime.apps import build_admin_app, build_ingress_app
from gateway.runtime.reconcile import check_declared_destinations, reconcile_config
from gateway.store import StoreUnavailable
from gateway.store.bootstrap import ensure_database
from gateway.store.database import Database
from gateway.store.embedded import EmbeddedDatabase, start_embedded
from gateway.store.migrate import head_revision, upgrade_to_head

__all__ = ["ListenError", "Role", "open_database", "run", "serve"]

Role = Literal["all", "ingress", "worker", "api"]
log = logging.getLogger("gateway")

BACKLOG = 4096
"""Connections the kernel holds for a listener until they are accepted (capped by
``net.core.somaxconn``): room for a burst of senders all opening connections at once."""


@contextlib.asynccontextmanager
async def open_database(config: Config, *, migrate: bool | None = None) -> AsyncIterator[Database]:
    """Connect (starting the embedded server when no URL is set), migrating if asked.

    ``migrate=None`` follows ``database.migrate_on_start``, which defaults to migrating
    the embedded database only: a shared database is migrated by ``webhook-gateway
    migrate`` (a Helm hook), so replicas never race on schema changes.
    """
    embedded: EmbeddedDatabase | None = None
    url = config.database.url
    if url is None:
        embedded = await asyncio.to_thread(start_embedded, config.database.data_dir)
        await ensure_database(embedded.server_url, "webhook_gateway")
        url = embedded.url
    if migrate is None:
        migrate = config.database.migrate_on_start
        migrate = embedded is not None if migrate is None else migrate
    try:
        if migrate:
            await upgrade_to_head(url)
        db = await _connect(config, url)
        try:
            yield db
        finally:
            await db.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _connect(config: Config, url: str) -> Database:
    """Connect, waiting for the database while it is not up yet (logged every try)."""
    delay = 0.5
    while True:
        try:
            return await Database.connect(
                url,
                min_size=config.database.pool_min,
                max_size=config.database.pool_max,
                connect_timeout=config.database.connect_timeout_seconds,
                command_timeout=config.database.command_timeout_seconds,
            )
        except StoreUnavailable as exc:
            log.warning("database not reachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def _sources(config: Config) -> dict[str, Source]:
    """Every source ready to serve; raises ``ConfigError`` for a secret its scheme cannot use."""
    return build_sources(config)


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

    Raises :class:`ListenError` when a listener's address is taken, having started nothing.
    """
    sources = _sources(config)
    check_declared_destinations(config)
    tls = ingress_ssl_context(config) if role in ("all", "ingress") else None
    bound = _bind_listeners(config, role)
    try:
        await _serve(config, role, stop, sources, tls, bound)
    finally:
        _close_sockets(bound)  # closed already once served; not if start-up failed


async def _serve(
    config: Config,
    role: Role,
    stop: asyncio.Event,
    sources: dict[str, Source],
    tls: ssl.SSLContext | None,
    bound: dict[str, list[socket.socket]],
) -> None:
    metrics = Metrics(__version__)
    async with open_database(config) as db:
        if role != "ingress":
            await reconcile_config(config, db)
        registry = SourceRegistry(sources, db, config.ingress.sources_refresh_seconds)
        runners: list[web.AppRunner] = []
        dispatcher: Dispatcher | None = None
        client: OutboundClient | None = None
        writer: GroupCommitWriter | None = None
        writer_db: Database | None = None  # its own pool: statements planned once
        queue_db: Database | None = None  # the same for claims and settlements
        lag = LoopLag(config.ingress.shed_loop_lag_ms / 1000, histogram=metrics.loop_lag_seconds)
        components = {}
        policy = AddressPolicy(config.delivery.allowed_private_cidrs)
        if config.delivery.allowed_private_cidrs and role != "ingress":
            log.warning(
                "delivery.allowed_private_cidrs opens %s to subscribers: a subscriber URL there "
                "can reach internal services (this gateway's admin port on loopback too)",
                ", ".join(config.delivery.allowed_private_cidrs),
            )
        links = PayloadLinks.from_config(config)
        if role in ("all", "worker") and config.delivery.enabled:
            client = OutboundClient(
                policy,
                max_connections=config.delivery.concurrency * 2,
                connect_timeout=config.delivery.connect_timeout_seconds,
                snippet_bytes=config.delivery.response_snippet_bytes,
                user_agent=f"{config.delivery.user_agent}/{__version__}",
            )
            queue_db = await Database.connect(
                db.url,
                min_size=2,  # a claim and a settlement at once (a release waits its turn)
                max_size=2,
                connect_timeout=config.database.connect_timeout_seconds,
                command_timeout=config.database.command_timeout_seconds,
                generic_plans=True,
                name="webhook-gateway-queue",
            )
            dispatcher = Dispatcher(
                db, client, config.delivery, metrics, links=links, queue_db=queue_db
            )
            dispatcher.start()
            components["dispatcher"] = lambda: dispatcher is not None and dispatcher.running
        if role in ("all", "ingress"):
            writer_db = await Database.connect(  # all open from the start: one per slot
                db.url,
                min_size=config.writer.max_in_flight,
                max_size=config.writer.max_in_flight,
                connect_timeout=config.database.connect_timeout_seconds,
                command_timeout=config.database.command_timeout_seconds,
                generic_plans=True,
                name="webhook-gateway-writer",
            )
            writer = GroupCommitWriter(
                writer_db,
                config.writer,
                metrics,
                dispatcher.wake if dispatcher else lambda: None,
                ack_timeout=config.ingress.ack_timeout_seconds,
            )
            writer.start()
            components["writer"] = lambda: writer is not None and writer.running
            await registry.start()
            lag.start()
            ingress_state = IngressState(config.ingress, registry, writer, metrics, lag)
            ingress = build_ingress_app(ingress_state, PayloadState(db, links))
            runners.append(
                await _listen(
                    ingress,
                    config.ingress.host,
                    bound["ingress"],
                    "ingress",
                    tls,
                    config.ingress,
                    early_answers(ingress_state),
                )
            )
        api = None
        authenticator = None
        if role in ("all", "worker", "api"):
            api = ApiState(config, db, policy, metrics)
            authenticator = Authenticator.from_config(
                config, RevokedTokens.from_config(db, config.api)
            )
        lifecycle = _start_lifecycle(config, role, db, metrics)
        pools = {"writer": writer_db, "queue": queue_db}
        health = HealthState(
            db,
            metrics,
            head_revision(),
            components,
            {name: pool for name, pool in pools.items() if pool is not None},
        )
        admin = build_admin_app(health, api, authenticator)
        admin_runner = await _listen(admin, config.admin.host, bound["admin"], "admin")
        # What start-up made lives until the end: take it out of the collector's sight,
        # so a full collection (a pause every request in flight waits for) stays short.
        gc.collect()
        gc.freeze()
        log.info("webhook-gateway %s serving (role %s)", __version__, role)
        await stop.wait()
        log.info("shutting down")
        for task in lifecycle:
            await task.stop()
        for runner in runners:  # stop taking webhooks; answer the ones already read
            await runner.cleanup()
        if writer is not None:
            await writer.close()
        if writer_db is not None:
            await writer_db.close()
        await lag.stop()
        await registry.stop()
        if dispatcher is not None:
            await dispatcher.stop(config.delivery.grace_seconds)
        if client is not None:
            await client.close()
        if queue_db is not None:
            await queue_db.close()
        await admin_runner.cleanup()
    log.info("stopped")


def _start_lifecycle(
    config: Config, role: Role, db: Database, metrics: Metrics
) -> list[BacklogMonitor | Retention]:
    """The backlog gauges (every role: each replica exports them) and retention (workers)."""
    started: list[BacklogMonitor | Retention] = []
    if config.metrics.backlog_interval_seconds > 0:
        started.append(BacklogMonitor(db, metrics, config.metrics.backlog_interval_seconds))
    if role in ("all", "worker") and config.retention.enabled:
        started.append(
            Retention(
                db, config.retention, metrics, token_leeway_seconds=config.api.jwt_leeway_seconds
            )
        )
    for task in started:
        task.start()
    return started


def early_answers(state: IngressState) -> AnswerEarly:
    """The overload 503 from a webhook's bytes, and (``ingress.fast_path``) the whole of
    a plain webhook from them (ingress/fastpath.py)."""
    refusal = EarlyRefusal(state)
    return FastIngest(state, refusal) if state.config.fast_path else refusal


async def _listen(
    app: web.Application,
    host: str,
    sockets: list[socket.socket],
    name: str,
    tls: ssl.SSLContext | None = None,
    slow_clients: IngressConfig | None = None,
    answer_early: AnswerEarly | None = None,
) -> web.AppRunner:
    """Serve ``app``; with ``slow_clients``, its header and keep-alive timeouts apply, and
    ``answer_early`` may answer requests from their bytes (the overload 503)."""
    options: dict[str, Any] = {"handle_signals": False, "access_log": None}
    runner = (
        GuardedRunner(
            app,
            header_timeout=slow_clients.header_timeout_seconds,
            keepalive_timeout=slow_clients.keepalive_timeout_seconds,
            answer_early=answer_early,
            shutdown_timeout=15.0,
            **options,
        )
        if slow_clients is not None
        else ClosingRunner(app, shutdown_timeout=15.0, **options)
    )
    await runner.setup()
    port = int(sockets[0].getsockname()[1])
    site = GreedySite(runner, host, port, ssl_context=tls, backlog=BACKLOG, sockets=sockets)
    await site.start()
    log.info("%s listening on %s://%s:%s", name, "https" if tls else "http", host, port)
    return runner


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
