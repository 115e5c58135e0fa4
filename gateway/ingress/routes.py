"""``POST /webhooks/v1/{source}``: admit, read within the limit, verify, store, then answer.

The checks run cheapest first: method 405 → unknown source 404 → client address, TLS and allowlists
403 → rate limits 429 → WooCommerce creation ping 200 → content type 415 → body limit
413 → overloaded 503 → signature 401 → event id 400 → durable store (202, or 200 for a
duplicate). While the gateway is overloaded, a POST gets its 503 before all of these
(ingress/shedding.py). A plain webhook meets the same checks, from these functions,
without aiohttp's request objects (ingress/fastpath.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Mapping

import orjson
from aiohttp import web
from prometheus_client import Counter, Histogram

from gateway.config import IngressConfig, SourceConfig
from gateway.domain.ids import new_id
from gateway.http.problems import Problem
from gateway.ingress.admission import Guard
from gateway.ingress.extract import ExtractError, extract, json_loader
from gateway.ingress.headers import stored_headers
from gateway.ingress.inbound import Inbound
from gateway.ingress.looplag import LoopLag
from gateway.ingress.registry import find_source
from gateway.ingress.schemes import is_woocommerce_ping
from gateway.ingress.schemes.woocommerce import SIGNATURE_HEADER as WOOCOMMERCE_SIGNATURE
from gateway.ingress.source import Source
from gateway.ingress.verify import VerificationFailed
from gateway.ingress.writer import (
    GroupCommitWriter,
    WriterClosed,
    WriterOverloaded,
    WriterTimedOut,
)
from gateway.observability import Children, Metrics
from gateway.store import StoreError
from gateway.store.records import IngestEvent, IngestResult

__all__ = [
    "INGRESS",
    "OVERLOADED",
    "UNKNOWN_SOURCE",
    "IngressState",
    "Source",
    "accept",
    "add_routes",
    "answer",
    "check_content_type",
    "may_be_ping",
    "overloaded_now",
    "read_body",
    "retry_after",
    "stored",
    "submit",
    "too_large",
]

OVERLOADED = "the gateway is saturated; retry later"
"""The detail of the 503 that load shedding answers."""

UNKNOWN_SOURCE = "(unknown)"
"""The ``source`` metric label of requests for a source that does not exist."""

_PING_TYPES = frozenset({"application/x-www-form-urlencoded", "application/octet-stream"})
_PING_MAX_BYTES = 64
# One layer of these, decoded by aiohttp within the body limit; "" and identity: as is.
_ACCEPTED_CODINGS = frozenset({"", "identity", "gzip", "deflate"})


@dataclasses.dataclass(slots=True)
class IngressState:
    config: IngressConfig
    sources: Mapping[str, Source]
    writer: GroupCommitWriter
    metrics: Metrics
    lag: LoopLag = dataclasses.field(default_factory=lambda: LoopLag(0))
    guard: Guard = dataclasses.field(init=False)
    active: int = dataclasses.field(init=False, default=0)  # webhooks being handled now
    requests: Children[Counter] = dataclasses.field(init=False)  # by source, outcome
    acks: Children[Histogram] = dataclasses.field(init=False)  # by source
    shed_bodies: dict[str, bytes] = dataclasses.field(init=False, default_factory=dict)  # by path

    def __post_init__(self) -> None:
        self.guard = Guard.from_config(self.config)
        self.requests = Children(self.metrics.ingest_requests)
        self.acks = Children(self.metrics.ack_latency)


INGRESS = web.AppKey("ingress", IngressState)


async def receive(request: web.Request) -> web.Response:
    started = time.perf_counter()
    state = request.app[INGRESS]
    name = request.match_info["source"]
    source = await find_source(state.sources, name)
    if request.method != "POST":
        state.requests(name if source is not None else UNKNOWN_SOURCE, "method-not-allowed").inc()
        raise Problem(405, "webhooks are sent with POST", headers={"Allow": "POST"})
    if source is None:
        state.requests(UNKNOWN_SOURCE, "unknown-source").inc()
        raise Problem(404, f"no source named {name!r}", kind="unknown-source")
    outcome = "error"
    state.active += 1
    try:
        response, outcome = await _receive(request, state, source)
        if outcome != "ping":
            state.acks(name).observe(time.perf_counter() - started)
        return response
    except Problem as problem:
        outcome = problem.kind
        raise
    finally:
        state.active -= 1
        state.requests(name, outcome).inc()


async def _receive(
    request: web.Request, state: IngressState, source: Source
) -> tuple[web.Response, str]:
    cfg = source.config
    state.guard.admit(request, source)
    body = await _read(request, cfg, cfg.max_body_bytes or state.config.max_body_bytes)
    if body is None:
        ping = orjson.dumps({"ping": True})
        return web.Response(body=ping, content_type="application/json"), "ping"
    future = submit(state, accept(state, source, request, body))
    with contextlib.suppress(Exception):  # what went wrong is read from the future
        await future
    status, payload, outcome = answer(stored(state, future))
    return web.Response(status=status, body=payload, content_type="application/json"), outcome


def accept(state: IngressState, source: Source, request: Inbound, body: bytes) -> IngestEvent:
    """The event to store, once the gateway keeps up and the signature holds (the
    checks after the body is read, in order); else a :class:`Problem`."""
    if overloaded_now(state):  # before any work that would be thrown away
        raise _overloaded(state)
    try:
        source.verifier.verify(request.headers, body, time.time())
    except VerificationFailed as exc:
        raise Problem(401, exc.reason, kind="signature-invalid") from None
    return _event(request, source.config, body)


def answer(result: IngestResult) -> tuple[int, bytes, str]:
    """Status, JSON body and outcome label of a stored (or duplicate) event."""
    payload = orjson.dumps({"event_id": result.event_id, "duplicate": result.duplicate})
    if result.duplicate:
        return 200, payload, "duplicate"
    return 202, payload, "accepted"


async def _read(request: web.Request, cfg: SourceConfig, limit: int) -> bytes | None:
    """The body, once its content type is accepted; ``None`` for a WooCommerce ping.

    The ping is form-encoded even when the source accepts only JSON, so it is looked
    for before the content type is checked.
    """
    body: bytes | None = None
    if may_be_ping(request, cfg):
        body = await read_body(request, limit)
        if is_woocommerce_ping(request.headers, body, request.headers.get("Content-Type")):
            return None
    check_content_type(request, cfg)
    return body if body is not None else await read_body(request, limit)


def may_be_ping(request: Inbound, cfg: SourceConfig) -> bool:
    """An unsigned, small, form-encoded request to a WooCommerce source: read it to see."""
    return (
        cfg.scheme == "woocommerce"
        and WOOCOMMERCE_SIGNATURE not in request.headers
        and request.content_type in _PING_TYPES
        and (request.content_length or 0) <= _PING_MAX_BYTES
    )


def check_content_type(request: Inbound, cfg: SourceConfig) -> None:
    """415 unless the media type (parameters aside) is one the source lists, if it lists any,
    and the body comes as is or in one coding that aiohttp decodes.

    A Content-Type that is not ASCII is no media type at all (and could not be stored or
    sent on): 415 whatever the source lists.
    """
    _check_content_encoding(request)
    if not request.headers.get("Content-Type", "").isascii():
        raise Problem(415, "the content type is not ASCII", kind="unsupported-media-type")
    if not cfg.content_types:
        return
    given = _media_type(request.headers.get("Content-Type", ""))
    if given not in {_media_type(accepted) for accepted in cfg.content_types}:
        shown = repr(given[:100]) if given else "none"
        raise Problem(
            415,
            f"content type {shown} is not accepted; send {' or '.join(cfg.content_types)}",
            kind="unsupported-media-type",
        )


def _check_content_encoding(request: Inbound) -> None:
    """aiohttp decodes one ``gzip`` or ``deflate`` layer and passes anything else through
    still encoded (``gzip, gzip``, ``x-gzip``, a second Content-Encoding line): that would
    be stored and sent on as if it were the body, so it is a 415 naming what is accepted."""
    codings = request.headers.getall("Content-Encoding", ())
    if not codings or (len(codings) == 1 and codings[0].strip().lower() in _ACCEPTED_CODINGS):
        return
    shown = ", ".join(codings)[:100]
    raise Problem(
        415,
        f"content encoding {shown!r} is not accepted; send the body unencoded or in one layer"
        " of gzip or deflate",
        kind="unsupported-content-encoding",
        headers={"Accept-Encoding": "gzip, deflate"},
    )


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _event(request: Inbound, cfg: SourceConfig, body: bytes) -> IngestEvent:
    event_id = new_id("evt")
    parsed = json_loader(body)

    def field(location: str | None, what: str) -> str | None:
        try:
            return extract(location, request.headers, body, parsed)
        except ExtractError as exc:
            raise Problem(400, f"{what}: {exc}", kind="invalid-event") from None

    external_id = field(cfg.event_id, "event id")
    if cfg.event_id and external_id is None:
        raise Problem(400, f"the event id ({cfg.event_id}) is missing", kind="missing-event-id")
    return IngestEvent(
        id=event_id,
        source=cfg.name,
        external_id=external_id or event_id,
        event_type=field(cfg.event_type, "event type"),
        ordering_key=field(cfg.ordering_key, "ordering key"),
        content_type=request.headers.get("Content-Type"),
        headers_json=stored_headers(request.headers, cfg),
        body=body,
        replay_window_seconds=cfg.replay_window_seconds or 0.0,
    )


def submit(state: IngressState, event: IngestEvent) -> asyncio.Future[IngestResult]:
    """Hand ``event`` to the group-commit writer; its future resolves after the COMMIT
    (read it with :func:`stored`). A writer that takes nothing now is a 503."""
    try:
        return state.writer.submit(event)
    except WriterOverloaded:
        raise _overloaded(state) from None
    except WriterClosed:
        raise Problem(
            503, "the gateway is shutting down", kind="shutting-down", headers=retry_after(state)
        ) from None


def stored(state: IngressState, future: asyncio.Future[IngestResult]) -> IngestResult:
    """The result of a finished :func:`submit`, or the 503 that says why there is none."""
    try:
        # The writer answers with WriterTimedOut after ack_timeout_seconds (the event may
        # still commit: the sender's retry then gets 200 as a duplicate, never a copy).
        return future.result()
    except WriterTimedOut:
        raise Problem(
            503, "storage is slow; retry later", kind="storage-timeout", headers=retry_after(state)
        ) from None
    except StoreError:
        raise Problem(
            503,
            "storage is unavailable; retry later",
            kind="storage-unavailable",
            headers=retry_after(state),
        ) from None


def overloaded_now(state: IngressState, arriving: int = 0) -> bool:
    """Too much waiting already: for the database (the writer's queue), for the CPU (the
    loop runs late), or simply too many webhooks in hand at once (``arriving`` more are
    about to be, not yet counted in ``active``)."""
    limit = state.config.max_concurrent_requests
    return (
        (limit > 0 and state.active + arriving > limit)
        or state.writer.overloaded
        or state.lag.overloaded
    )


def _overloaded(state: IngressState) -> Problem:
    return Problem(503, OVERLOADED, kind="overloaded", headers=retry_after(state))


def retry_after(state: IngressState) -> dict[str, str]:
    """The header that tells a refused sender when to come back."""
    return {"Retry-After": str(state.config.retry_after_seconds)}


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body (declared or chunked) is a 413 at once.

    The limit counts decoded bytes (after any ``Content-Encoding``); a body that cannot
    be decoded is a 400.
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.readany()
        except web.RequestPayloadError:
            raise Problem(
                400, "the body could not be decoded as sent", kind="body-unreadable"
            ) from None
        except ConnectionResetError:  # the client went away (or was cut off as too slow)
            raise Problem(
                400, "the connection closed before the body was complete", kind="body-incomplete"
            ) from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(413, f"the body exceeds {limit} bytes", kind="body-too-large")


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/webhooks/v1/{source}", receive)
