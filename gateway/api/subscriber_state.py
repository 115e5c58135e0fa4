"""Pause, resume and rotate the signing secret of a subscriber.

- ``POST /subscribers/{id}/pause``: nothing more is sent; deliveries wait, pending.
- ``POST /subscribers/{id}/resume``: a paused or disabled subscriber is sent to again,
  with a closed circuit and a clean failure record.
- ``POST /subscribers/{id}/secret/rotate``: a new secret, shown once. The previous one
  keeps signing beside it (two signatures in ``webhook-signature``) until it expires:
  24 hours by default, or as the request says (0 drops it at once).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import add_endpoints, endpoint
from gateway.api.models import PauseIn, SecretRotated, SecretRotationIn, SubscriberOut, decode_body
from gateway.api.state import API
from gateway.api.subscribers import load_subscriber, refuse_if_declared, subscriber_out
from gateway.delivery.signer import new_secret
from gateway.http.problems import Problem
from gateway.store import Conflict, flow
from gateway.store import subscribers as store

__all__ = ["DEFAULT_OVERLAP", "add_routes"]

DEFAULT_OVERLAP = timedelta(hours=24)


async def _body(request: web.Request) -> bytes:
    raw = await request.read()
    return raw if raw.strip() else b"{}"


@endpoint(
    "POST",
    "/subscribers/{id}/pause",
    scope="write",
    summary="Stop sending; deliveries wait",
    tag="subscribers",
    body=PauseIn,
    response=SubscriberOut,
    errors=[404, 409],
)
async def pause(request: web.Request) -> web.Response:
    db = request.app[API].db
    sub = await load_subscriber(request)
    body = decode_body(await _body(request), PauseIn)
    try:
        sub = await store.pause(db, sub.id, body.reason)
    except Conflict as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    return json_response(subscriber_out(sub, await flow.get_flows(db, [sub.id])))


@endpoint(
    "POST",
    "/subscribers/{id}/resume",
    scope="write",
    summary="Send again",
    tag="subscribers",
    response=SubscriberOut,
    errors=[404, 409],
)
async def resume(request: web.Request) -> web.Response:
    db = request.app[API].db
    sub = await store.resume(db, (await load_subscriber(request)).id)
    return json_response(subscriber_out(sub, await flow.get_flows(db, [sub.id])))


@endpoint(
    "POST",
    "/subscribers/{id}/secret/rotate",
    scope="write",
    summary="A new signing secret, shown once",
    tag="subscribers",
    body=SecretRotationIn,
    response=SecretRotated,
    errors=[404, 409, 422],
)
async def rotate_secret(request: web.Request) -> web.Response:
    sub = await load_subscriber(request)
    refuse_if_declared(sub)
    body = decode_body(await _body(request), SecretRotationIn)
    now = datetime.now(UTC)
    if body.previous_expires_at is not None and body.previous_expires_in_seconds is not None:
        raise Problem(
            422,
            "give previous_expires_at or previous_expires_in_seconds, not both",
            kind="validation",
        )
    if body.previous_expires_at is not None:
        expires = body.previous_expires_at
        if expires.tzinfo is None or expires > now + timedelta(days=30):
            raise Problem(
                422,
                "previous_expires_at must carry a time zone and lie within 30 days",
                kind="validation",
            )
    elif body.previous_expires_in_seconds is not None:
        expires = now + timedelta(seconds=body.previous_expires_in_seconds)
    else:
        expires = now + DEFAULT_OVERLAP
    secret = new_secret()
    sub = await store.rotate_secret(request.app[API].db, sub.id, secret, expires)
    rotated = SecretRotated(
        subscriber_id=sub.id,
        secret=secret,
        previous_secret_expires_at=sub.previous_secret_expires_at,
    )
    return json_response(rotated)


HANDLERS = [pause, resume, rotate_secret]


def add_routes(app: web.Application, prefix: str) -> None:
    add_endpoints(app, prefix, HANDLERS)
