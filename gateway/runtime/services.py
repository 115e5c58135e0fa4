"""What each role runs, started in order on one stack (and so stopped in reverse).

The order of starting here is the order of shutdown read backwards, and shutdown loses
nothing only in this order: the lifecycle tasks stop; the ingress listener stops taking
webhooks and answers the ones it has read; the sources' readers stop reading their
queues and store, then delete or acknowledge, what they hold (or give it back); the
writer commits everything queued, then its pool closes; the loop-lag timer and the
source registry stop; the dispatcher stops claiming, gives the attempts in flight their
grace and closes its broker connections; the delivery client and the queue pool close;
the operational events store what was told of until then; the admin listener (the API,
/readyz and /metrics answered until then) closes; the database closes last.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
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
from gateway.delivery.egress import Egress
from gateway.delivery.links import PayloadLinks
from gateway.delivery.ssrf import AddressPolicy
from gateway.domain.operational import Emit, drop
from gateway.domain.receive import ReaderStatus
from gateway.http.acceptor import GreedySite
from gateway.http.closing import ClosingRunner
from gateway.ingress.early import AnswerEarly
from gateway.ingress.fastpath import FastIngest
from gateway.ingress.intake import Intake
from gateway.ingress.looplag import LoopLag
from gateway.ingress.messages import MessageIntake
from gateway.ingress.operational import OperationalEvents
from gateway.ingress.registry import SourceRegistry
from gateway.ingress.shedding import EarlyRefusal
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.sns import SnsCertificates
from gateway.ingress.source import Source
from gateway.ingress.spikes import SignatureSpikes
from gateway.ingress.writer import GroupCommitWriter
from gateway.lifecycle.services import Hooks, Services
from gateway.maintenance.backlog import BacklogMonitor
from gateway.maintenance.retention import Retention
from gateway.observability import Metrics
from gateway.observability.tracing import Tracing
from gateway.runtime.apps import build_admin_app, build_ingress_app
from gateway.runtime.database import open_database
from gateway.runtime.reconcile import reconcile_config
from gateway.runtime.tracing import check_tracing, open_tracing
from gateway.sources.readers import SourceReaders
from gateway.store.database import Database
from gateway.store.migrate import head_revision

__all__ = ["BACKLOG", "Role", "early_answers", "start"]

Role = Literal["all", "ingress", "worker", "api"]
log = logging.getLogger("gateway")

BACKLOG = 4096
"""Connections the kernel holds for a listener until they are accepted (capped by
``net.core.somaxconn``): room for a burst of senders all opening connections at once."""

Components = dict[str, Callable[[], bool]]
Statuses = Callable[[], dict[str, ReaderStatus]]


async def start(
    services: Services,
    config: Config,
    role: Role,
    sources: dict[str, Source],
    tls: ssl.SSLContext | None,
    bound: dict[str, list[socket.socket]],
) -> None:
    """Start on ``services`` everything ``role`` runs, listening on the ``bound`` sockets."""
    metrics = Metrics(__version__)
    tracing: Tracing | None = None
    settings = check_tracing(config)
    if settings is not None:  # off, it is no service at all
        tracing = await services.enter("tracing", open_tracing(settings, metrics))
    db = await services.enter("database", open_database(config))
    # The admin listener can only start once all that /readyz reports on exists, yet it
    # stops after everything but the database: its place in the stopping order is here.
    admin = await services.place()
    if role != "ingress":
        with services.step("configuration"):
            await reconcile_config(config, db)
    components: Components = {}
    pools: dict[str, Database] = {}
    policy = AddressPolicy(config.delivery.allowed_private_cidrs)
    if config.delivery.allowed_private_cidrs and role != "ingress":
        log.warning(
            "delivery.allowed_private_cidrs opens %s to subscribers: a subscriber URL there "
            "can reach internal services (this gateway's admin port on loopback too)",
            ", ".join(config.delivery.allowed_private_cidrs),
        )
    links = PayloadLinks.from_config(config)
    emit = await _start_operational_events(services, config, db, metrics)
    on_commit = _no_dispatcher
    if role in ("all", "worker") and config.delivery.enabled:
        on_commit = await _start_delivery(
            services, config, db, metrics, policy, links, pools, components, emit, tracing
        )
    readers: Statuses = _no_readers
    if role in ("all", "ingress"):
        readers = await _start_ingress(
            services,
            config,
            db,
            metrics,
            sources,
            links,
            on_commit,
            tls,
            bound["ingress"],
            pools,
            components,
            emit,
            tracing,
        )
    api = None
    authenticator = None
    if role in ("all", "worker", "api"):
        api = ApiState(config, db, policy, metrics, readers=readers)
        authenticator = Authenticator.from_config(config, RevokedTokens.from_config(db, config.api))
    await _start_lifecycle(services, config, role, db, metrics, emit)
    shown: dict[str, Database] = {}  # the writer's first, as the metrics have listed them
    shown.update((name, pools[name]) for name in ("writer", "queue") if name in pools)
    health = HealthState(db, metrics, head_revision(), components, shown, readers)
    app = build_admin_app(health, api, authenticator)
    await admin.enter("admin listener", _listening(app, config.admin.host, bound["admin"], "admin"))


def _no_readers() -> dict[str, ReaderStatus]:
    """No source is read in this process."""
    return {}


def _no_dispatcher() -> None:
    """No dispatcher in this process to wake: the writer's NOTIFY tells the workers."""


async def _start_operational_events(
    services: Services, config: Config, db: Database, metrics: Metrics
) -> Emit:
    """What stores the gateway's events about itself: started before, and so stopped
    after, everything that tells of a change (what they told last is stored). Returns
    how to tell of one."""
    if not config.operational_events.enabled:
        return drop
    events = OperationalEvents(db, config.operational_events, metrics)
    await services.start("operational events", Hooks(events.start, events.stop))
    return events.emit


async def _start_delivery(
    services: Services,
    config: Config,
    db: Database,
    metrics: Metrics,
    policy: AddressPolicy,
    links: PayloadLinks,
    pools: dict[str, Database],
    components: Components,
    emit: Emit,
    tracing: Tracing | None,
) -> Callable[[], None]:
    """The queue pool, the delivery client and the dispatcher, which stops first (its
    attempts in flight use the client; its releases and settlements, the queue pool).
    Returns what tells the dispatcher that events were stored."""
    # A claim and a settlement at once (a release waits its turn).
    pools["queue"] = queue_db = await services.enter(
        "queue pool", _pool(config, db.url, "webhook-gateway-queue", 2)
    )
    client = await services.enter("delivery client", _client(config, policy))
    dispatcher = Dispatcher(
        db,
        client,
        config.delivery,
        metrics,
        links=links,
        queue_db=queue_db,
        brokers=config.brokers,
        emit=emit,
        tracing=tracing,
    )
    stop = functools.partial(dispatcher.stop, config.delivery.grace_seconds)
    await services.start("dispatcher", Hooks(dispatcher.start, stop))
    components["dispatcher"] = lambda: dispatcher.running
    return dispatcher.wake


async def _start_ingress(
    services: Services,
    config: Config,
    db: Database,
    metrics: Metrics,
    sources: dict[str, Source],
    links: PayloadLinks,
    on_commit: Callable[[], None],
    tls: ssl.SSLContext | None,
    sockets: list[socket.socket],
    pools: dict[str, Database],
    components: Components,
    emit: Emit,
    tracing: Tracing | None,
) -> Statuses:
    """The registry, the loop-lag timer, the writer's pool, the writer, the sources'
    readers and the listener: the listener stops first, then the readers, the writer
    (every event queued committed), its pool, the timer, the registry. Returns what says
    how the sources that read a queue are read."""
    registry = SourceRegistry(sources, db, config.ingress.sources_refresh_seconds)
    await services.start("source registry", registry)
    lag = LoopLag(config.ingress.shed_loop_lag_ms / 1000, histogram=metrics.loop_lag_seconds)
    await services.start("loop lag", Hooks(lag.start, lag.stop))
    # One connection per commit slot, all open from the start.
    size = config.writer.max_in_flight
    pools["writer"] = writer_db = await services.enter(
        "writer pool", _pool(config, db.url, "webhook-gateway-writer", size)
    )
    writer = GroupCommitWriter(
        writer_db,
        config.writer,
        metrics,
        on_commit,
        ack_timeout=config.ingress.ack_timeout_seconds,
        tracing=tracing,
    )
    await services.start("writer", Hooks(writer.start, writer.close))
    components["writer"] = lambda: writer.running
    readers = await _start_readers(services, config, registry, writer, metrics)
    intake = Intake(config.ingress, registry, writer, metrics, lag, tracing=tracing)
    if config.operational_events.enabled:
        spikes = SignatureSpikes(db, config.operational_events, emit)
        await services.start("signature spikes", Hooks(spikes.start, spikes.stop))
        intake.on_signature_failure = spikes.failed
    app = build_ingress_app(intake, PayloadState(db, links))
    listening = _listening(
        app, config.ingress.host, sockets, "ingress", tls, config.ingress, early_answers(intake)
    )
    await services.enter("ingress listener", listening)
    return readers.statuses


async def _start_readers(
    services: Services,
    config: Config,
    registry: SourceRegistry,
    writer: GroupCommitWriter,
    metrics: Metrics,
) -> SourceReaders:
    """The readers of the sources that read a queue (none may yet: the API can add one).
    What they hold when they stop has as long as the writer takes to answer."""
    certificates = SnsCertificates(config.ingress.sns_certificate_hosts)
    readers = SourceReaders(
        registry,
        config.brokers,
        MessageIntake(writer, certificates, config.ingress.max_body_bytes),
        metrics,
        grace_seconds=config.ingress.ack_timeout_seconds + 1.0,
        refresh_seconds=config.ingress.sources_refresh_seconds,
    )

    async def stop() -> None:
        await readers.stop()
        await certificates.close()

    await services.start("source readers", Hooks(readers.start, stop))
    return readers


async def _start_lifecycle(
    services: Services, config: Config, role: Role, db: Database, metrics: Metrics, emit: Emit
) -> None:
    """Retention (workers) and the backlog gauges (every role: each replica exports
    them); the first to stop, the gauges before retention."""
    if role in ("all", "worker") and config.retention.enabled:
        leeway = config.api.jwt_leeway_seconds
        retention = Retention(db, config.retention, metrics, token_leeway_seconds=leeway)
        await services.start("retention", Hooks(retention.start, retention.stop))
    if config.metrics.backlog_interval_seconds > 0:
        operational = config.operational_events
        backlog = BacklogMonitor(
            db,
            metrics,
            config.metrics.backlog_interval_seconds,
            emit=emit,
            threshold=operational.backlog_threshold if operational.enabled else None,
        )
        await services.start("backlog gauges", Hooks(backlog.start, backlog.stop))


@contextlib.asynccontextmanager
async def _pool(config: Config, url: str, name: str, size: int) -> AsyncIterator[Database]:
    """A pool of its own (``size`` connections, all open from the start) for fixed-shape
    statements run many times a second, planned once."""
    db = await Database.connect(
        url,
        min_size=size,
        max_size=size,
        connect_timeout=config.database.connect_timeout_seconds,
        command_timeout=config.database.command_timeout_seconds,
        generic_plans=True,
        name=name,
    )
    try:
        yield db
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def _client(config: Config, policy: AddressPolicy) -> AsyncIterator[OutboundClient]:
    client = OutboundClient(
        policy,
        egress=Egress(config.egress, config.source_file),
        max_connections=config.delivery.concurrency * 2,
        connect_timeout=config.delivery.connect_timeout_seconds,
        snippet_bytes=config.delivery.response_snippet_bytes,
        user_agent=f"{config.delivery.user_agent}/{__version__}",
    )
    try:
        yield client
    finally:
        await client.close()


def early_answers(intake: Intake) -> AnswerEarly:
    """The overload 503 from a webhook's bytes, and (``ingress.fast_path``) the whole of
    a plain webhook from them (ingress/fastpath.py)."""
    refusal = EarlyRefusal(intake)
    return FastIngest(intake, refusal) if intake.config.fast_path else refusal


@contextlib.asynccontextmanager
async def _listening(
    app: web.Application,
    host: str,
    sockets: list[socket.socket],
    name: str,
    tls: ssl.SSLContext | None = None,
    slow_clients: IngressConfig | None = None,
    answer_early: AnswerEarly | None = None,
) -> AsyncIterator[web.AppRunner]:
    """Serve ``app`` until exited; with ``slow_clients``, its header and keep-alive
    timeouts apply, and ``answer_early`` may answer requests from their bytes (the
    overload 503). Exiting stops taking connections and answers the requests read."""
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
    try:
        port = int(sockets[0].getsockname()[1])
        site = GreedySite(runner, host, port, ssl_context=tls, backlog=BACKLOG, sockets=sockets)
        await site.start()
        log.info("%s listening on %s://%s:%s", name, "https" if tls else "http", host, port)
        yield runner
    finally:
        await runner.cleanup()
