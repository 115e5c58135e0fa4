"""What the intake answers a webhook, before either path writes it: an :class:`Outcome`.

aiohttp's request path makes a ``web.Response`` of it (ingress/routes.py); the paths that
answer from a request's bytes write it with :func:`gateway.http.wire.encode_answer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

import orjson

from gateway.http.problems import CONTENT_TYPE, Problem, internal_error, problem_body
from gateway.http.wire import encode_answer
from gateway.store.records import IngestResult

__all__ = ["JSON", "PING", "Outcome", "failed", "refusal", "stored"]

JSON: Final = "application/json"
_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})


class Outcome(NamedTuple):
    """One answer: status, body and its content type, headers of its own, and the label
    it is counted under (``gateway_ingest_requests{outcome}``)."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str]
    label: str

    def encoded(self) -> bytes:
        """The whole answer as bytes on the wire (on a connection that stays open)."""
        return encode_answer(self.status, self.content_type, self.body, self.headers)


def stored(result: IngestResult) -> Outcome:
    """202 for an event stored now, 200 for a duplicate (with the first one's id)."""
    payload = orjson.dumps({"event_id": result.event_id, "duplicate": result.duplicate})
    if result.duplicate:
        return Outcome(200, JSON, payload, _NO_HEADERS, "duplicate")
    return Outcome(202, JSON, payload, _NO_HEADERS, "accepted")


def refusal(problem: Problem, path: str, body: bytes | None = None) -> Outcome:
    """The problem document (RFC 9457) of ``problem`` for ``path``, counted under its
    kind; ``body`` when that document is already made."""
    document = problem_body(problem, path) if body is None else body
    return Outcome(problem.status, CONTENT_TYPE, document, problem.headers, problem.kind)


def failed(path: str) -> Outcome:
    """The answer to an error the gateway did not expect (a 500), counted as ``error``."""
    return refusal(internal_error(), path)._replace(label="error")


PING: Final = Outcome(200, JSON, orjson.dumps({"ping": True}), _NO_HEADERS, "ping")
"""The answer to WooCommerce's creation ping (nothing is stored)."""
