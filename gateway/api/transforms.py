"""``POST /api/v1/transforms/test``: run a transform on a stored event or an inline body,
and answer what it would send, or its error. Nothing is stored or sent.

A stored event is shown to the transform as any exit of the API shows it: secret headers
hidden, the source's privacy rules applied to the body. So the answer holds nothing the
caller could not read already; the delivery itself runs on the event as stored.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import endpoint
from gateway.api.events import shown_headers
from gateway.api.models import decode_body
from gateway.api.state import API, ApiState
from gateway.delivery.transforms import Cancel, Failure
from gateway.domain.document import event_document, shown_document
from gateway.domain.media import is_xml
from gateway.domain.transform import Transform
from gateway.domain.xmlview import XmlRefused, parse_xml
from gateway.http.problems import Problem
from gateway.store import NotFound
from gateway.store import events as store

__all__ = ["HANDLERS", "TransformError", "TransformTestIn", "TransformTestOut", "try_transform"]


class TransformTestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A transform and what to run it on: a stored event (``event_id``), or an inline
    ``body`` (JSON, or a string: XML when ``content_type`` says so) with the ``source``,
    ``type`` and ``headers`` it would have come with."""

    transform: Transform
    event_id: str | None = None
    body: Any = msgspec.UNSET
    content_type: str | None = None
    source: str = "test"
    type: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    subscriber: str = "test"
    """The subscriber's name the transform sees in ``context.subscriber``."""


class TransformError(msgspec.Struct, kw_only=True):
    """Why the transform failed: the message, and where in its source when known."""

    message: str
    line: int | None
    column: int | None


class TransformTestOut(msgspec.Struct, kw_only=True):
    """What the transform made of the event: ``ok`` and the request it would send
    (``body`` as JSON when it is JSON, else as text; ``None``: the event's body,
    unchanged), ``cancel`` when it would not send it, or ``error``."""

    ok: bool
    version: str
    duration_ms: float
    cancel: bool = False
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    path: str = ""
    query: str = ""
    error: TransformError | None = None


@endpoint(
    "POST",
    "/transforms/test",
    scope="read",
    summary="Run a transform on a stored event or an inline body (nothing is sent)",
    tag="transforms",
    body=TransformTestIn,
    response=TransformTestOut,
    errors=[400, 404, 422],
)
async def test_transform(request: web.Request) -> web.Response:
    body = decode_body(await request.read(), TransformTestIn)
    return json_response(await try_transform(request.app[API], body))


async def try_transform(state: ApiState, given: TransformTestIn) -> TransformTestOut:
    """Run ``given.transform`` on its event (see the module); a problem for bad input."""
    document, received_at = await _document(state, given)
    context = {"subscriber": given.subscriber, "received_at": received_at.isoformat()}
    started = time.perf_counter()
    try:
        answer = await state.transforms.apply(given.transform, document, context)
    except Failure as failure:
        return TransformTestOut(
            ok=False,
            version=given.transform.version,
            duration_ms=_since(started),
            error=TransformError(message=failure.message, line=failure.line, column=failure.column),
        )
    version, took = given.transform.version, _since(started)
    if isinstance(answer, Cancel):
        return TransformTestOut(ok=True, version=version, duration_ms=took, cancel=True)
    return TransformTestOut(
        ok=True,
        version=version,
        duration_ms=took,
        body=None if answer.body is None else _shown(answer.body),
        content_type=answer.content_type,
        headers=dict(answer.headers),
        path=answer.path,
        query=answer.query,
    )


async def _document(state: ApiState, given: TransformTestIn) -> tuple[dict[str, Any], datetime]:
    if (given.event_id is None) == (given.body is msgspec.UNSET):
        reason = "give either event_id or body"
        errors = [{"field": "event_id", "message": reason}]
        raise Problem(422, reason, kind="validation", errors=errors)
    if given.event_id is not None:
        try:
            event = await store.get_event(state.db, given.event_id)
        except NotFound:
            raise Problem(404, f"no event {given.event_id}", kind="not-found") from None
        document = shown_document(
            event_document(event),
            await shown_headers(state.db, event),
            state.config.privacy.rules_for(event.source),
        )
        return document, event.received_at.astimezone(UTC)
    body = given.body
    if isinstance(body, str) and is_xml(given.content_type):
        try:
            body = parse_xml(body.encode()).view
        except XmlRefused as exc:
            raise Problem(422, f"body: {exc}", kind="validation",
                          errors=[{"field": "body", "message": str(exc)}]) from None  # fmt: skip
    headers = {k.lower(): v for k, v in given.headers.items()}
    document = {"type": given.type, "source": given.source, "id": "evt_test",
                "headers": headers, "body": body}  # fmt: skip
    return document, datetime.now(UTC)


def _shown(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


HANDLERS = [test_transform]
