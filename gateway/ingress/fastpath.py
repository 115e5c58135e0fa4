"""Store a plain webhook from its bytes, without aiohttp's request machinery.

aiohttp's request path (its parser's objects, a task per request, the middlewares, the
response and its writer) costs more CPU than all of the gateway's own work on a webhook.
Most webhooks are the plainest of requests, so the ingress connection handler shows the
bytes that start each request to :class:`FastIngest` first (``ingress.fast_path``). When
the bytes are one whole plain ``POST /webhooks/v1/{source}`` (ingress/framing.py) for a
source already known, it runs the same checks as the handler in ingress/routes.py, in the
same order, on the same code -- client address, TLS, allowlists, rate limits, content
type, body limit, overload, signature, event id -- hands the event to the same
group-commit writer, and answers after the COMMIT with the same status and body.

Everything else goes to aiohttp as before: another framing or method, a compressed
body, anything its parser would refuse or read otherwise, an unknown source (its
look-up waits for the database), a WooCommerce ping. The answers are counted in the
same metrics and logged on the same lines as the app's (gateway.http.requestlog).
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from collections.abc import Mapping

from aiohttp.helpers import parse_content_type, rfc822_formatted_time

from gateway.http.problems import CONTENT_TYPE, Problem, problem_body
from gateway.http.requestlog import log_answer
from gateway.ingress.early import Peer, Pending
from gateway.ingress.framing import plain_webhook
from gateway.ingress.inbound import ParsedRequest
from gateway.ingress.routes import (
    IngressState,
    Source,
    accept,
    answer,
    check_content_type,
    may_be_ping,
    stored,
    submit,
    too_large,
)
from gateway.ingress.shedding import EarlyRefusal
from gateway.store.records import IngestResult

__all__ = ["FastIngest"]

log = logging.getLogger("gateway.http")

_JSON = "application/json"
_DEFAULT_TYPE = "application/octet-stream"  # aiohttp's content_type without the header


class FastIngest:
    """The ingress's early answers: the overload 503 (``refusal``) first, then plain
    webhooks stored and answered from their bytes (see the module docstring)."""

    def __init__(self, state: IngressState, refusal: EarlyRefusal | None = None) -> None:
        self.state = state
        self.refusal = refusal
        self._heads: dict[tuple[int, str], bytes] = {}

    def __call__(self, data: bytes, peer: Peer) -> bytes | Pending | None:
        if self.refusal is not None:
            refused = self.refusal(data, peer)
            if refused is not None:
                return refused
        plain = plain_webhook(data)
        if plain is None:
            return None
        source = self.state.sources.get(plain.source)
        if source is None:
            return None
        headers = plain.headers()
        request = ParsedRequest(
            peer.remote,
            peer.secure,
            headers,
            _media_type(headers.get("Content-Type")),
            len(plain.body),  # its Content-Length: the judgement says so
        )
        if may_be_ping(request, source.config):
            return None
        return self._take(source, request, plain.body, plain.path)

    def _take(
        self, source: Source, request: ParsedRequest, body: bytes, path: str
    ) -> bytes | Pending:
        """The checks of ``routes._receive`` on a body in hand, then the writer."""
        state, cfg = self.state, source.config
        started = time.perf_counter()
        state.active += 1
        try:
            state.guard.admit(request, source)
            check_content_type(request, cfg)
            limit = cfg.max_body_bytes or state.config.max_body_bytes
            if len(body) > limit:
                raise too_large(limit)
            future = submit(state, accept(state, source, request, body))
        except Problem as problem:
            state.active -= 1
            return self._refused(problem, source.config.name, path, request, started)
        except Exception:
            state.active -= 1
            log.exception("unhandled error on POST %s", path)
            self._count(source.config.name, "error")
            return self._problem(Problem(500, "internal error; it has been logged"), path)

        def finish(done: asyncio.Future[IngestResult]) -> bytes:
            state.active -= 1
            return self._finish(done, source.config.name, path, request, started)

        return Pending(future, finish)

    def _finish(
        self,
        done: asyncio.Future[IngestResult],
        name: str,
        path: str,
        request: ParsedRequest,
        started: float,
    ) -> bytes:
        state = self.state
        try:
            if done.cancelled():
                raise Problem(
                    503,
                    "storage is unavailable; retry later",
                    kind="storage-unavailable",
                    headers={"Retry-After": str(state.config.retry_after_seconds)},
                )
            status, payload, outcome = answer(stored(state, done))
        except Problem as problem:
            return self._refused(problem, name, path, request, started)
        seconds = time.perf_counter() - started
        state.acks(name).observe(seconds)
        self._count(name, outcome)
        log_answer("POST", path, name, status, {}, payload, seconds, request.remote)
        return self._response(status, _JSON, {}, payload)

    def _refused(
        self, problem: Problem, name: str, path: str, request: ParsedRequest, started: float
    ) -> bytes:
        """Count, log and answer ``problem`` as the app's middlewares would."""
        self._count(name, problem.kind)
        body = problem_body(problem, path)
        seconds = time.perf_counter() - started
        log_answer(
            "POST", path, name, problem.status, problem.headers, body, seconds, request.remote
        )
        return self._response(problem.status, CONTENT_TYPE, problem.headers, body)

    def _problem(self, problem: Problem, path: str) -> bytes:
        return self._response(
            problem.status, CONTENT_TYPE, problem.headers, problem_body(problem, path)
        )

    def _count(self, name: str, outcome: str) -> None:
        self.state.requests(name, outcome).inc()

    def _response(
        self, status: int, content_type: str, headers: Mapping[str, str], body: bytes
    ) -> bytes:
        """The answer as the app writes it (no ``Server`` header: ingress/serverheader.py)."""
        head = self._heads.get((status, content_type))
        if head is None:
            head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n" % (
                status,
                http.HTTPStatus(status).phrase.encode(),
                content_type.encode(),
            )
            if len(self._heads) < 64:
                self._heads[(status, content_type)] = head
        extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items())
        return b"".join(
            (
                head,
                extra,
                b"Content-Length: %d\r\nDate: " % len(body),
                rfc822_formatted_time().encode(),  # aiohttp's own, cached per second
                b"\r\n\r\n",
                body,
            )
        )


def _media_type(value: str | None) -> str:
    """``request.content_type`` as aiohttp gives it (its own parse)."""
    return _DEFAULT_TYPE if value is None else parse_content_type(value)[0]
