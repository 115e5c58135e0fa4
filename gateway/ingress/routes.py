"""``POST /webhooks/v1/{source}``: verify, store durably, then answer."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
import orjson
from aiohttp import web

from gateway.config import IngressConfig, SourceConfig
from gateway.ids import new_id
from gateway.ingress.extract import ExtractError, extract, json_loader
from gateway.ingress.headers import stored_headers
from gateway.ingress.verify import VerificationFailed, Verifier
from gateway.ingress.writer import GroupCommitWriter, WriterClosed, WriterOverloaded
from gateway.observability import Metrics
from gateway.problems import Problem
from gateway.store import StoreError
from gateway.store.records import IngestEvent, IngestResult

__all__ = ["INGRESS", "IngressState", "Source", "add_routes"]


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    config: SourceConfig
    verifier: Verifier


@dataclasses.dataclass(slots=True)
class IngressState:
    config: IngressConfig
    sources: Mapping[str, Source]
    writer: GroupCommitWriter
    metrics: Metrics


INGRESS = web.AppKey("ingress", IngressState)


async def receive(request: web.Request) -> web.Response:
    started = time.perf_counter()
    state = request.app[INGRESS]
    name = request.match_info["source"]
    source = state.sources.get(name)
    if source is None:
        state.metrics.ingest_requests.labels("unknown", "unknown_source").inc()
        raise Problem(404, f"no source named {name!r}", kind="unknown-source")
    outcome = "error"
    try:
        response, outcome = await _receive(request, state, source)
        state.metrics.ack_latency.labels(name).observe(time.perf_counter() - started)
        return response
    except Problem as problem:
        outcome = problem.kind
        raise
    finally:
        state.metrics.ingest_requests.labels(name, outcome).inc()


async def _receive(
    request: web.Request, state: IngressState, source: Source
) -> tuple[web.Response, str]:
    cfg = source.config
    body = await read_body(request, cfg.max_body_bytes or state.config.max_body_bytes)
    try:
        source.verifier.verify(request.headers, body, time.time())
    except VerificationFailed as exc:
        raise Problem(401, exc.reason, kind="signature-invalid") from None
    event = _event(request, cfg, body)
    result = await _store(state, event)
    payload = orjson.dumps({"event_id": result.event_id, "duplicate": result.duplicate})
    status, outcome = (200, "duplicate") if result.duplicate else (202, "accepted")
    return web.Response(status=status, body=payload, content_type="application/json"), outcome


def _event(request: web.Request, cfg: SourceConfig, body: bytes) -> IngestEvent:
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
    )


async def _store(state: IngressState, event: IngestEvent) -> IngestResult:
    retry = {"Retry-After": str(state.config.retry_after_seconds)}
    try:
        future = state.writer.submit(event)
    except WriterOverloaded:
        raise Problem(
            503, "the gateway is saturated; retry later", kind="overloaded", headers=retry
        ) from None
    except WriterClosed:
        raise Problem(
            503, "the gateway is shutting down", kind="shutting-down", headers=retry
        ) from None
    try:
        return await asyncio.wait_for(asyncio.shield(future), state.config.ack_timeout_seconds)
    except TimeoutError:
        raise Problem(
            503, "storage is slow; retry later", kind="storage-timeout", headers=retry
        ) from None
    except StoreError:
        raise Problem(
            503, "storage is unavailable; retry later", kind="storage-unavailable", headers=retry
        ) from None


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body (declared or chunked) is a 413 at once."""
    too_large = Problem(413, f"the body exceeds {limit} bytes", kind="body-too-large")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/v1/{source}", receive)
