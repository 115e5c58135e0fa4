"""``/api/v1/subscribers``: register, list, read, change and remove subscribers."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from gateway.api.auth import required_scope
from gateway.api.common import json_response, page_params
from gateway.api.models import (
    Page,
    SubscriberCreated,
    SubscriberIn,
    SubscriberOut,
    SubscriberPatch,
    decode_body,
)
from gateway.api.state import API, ApiState
from gateway.delivery.filters import glob_to_like
from gateway.delivery.signer import new_secret
from gateway.delivery.ssrf import AddressBlocked
from gateway.problems import Problem
from gateway.store import Conflict, NotFound
from gateway.store import subscribers as store
from gateway.store.records import Subscriber, SubscriberSpec

__all__ = ["add_routes"]


def _out(
    sub: Subscriber, cls: type[SubscriberOut] = SubscriberOut, **extra: object
) -> SubscriberOut:
    fields = {f.name for f in msgspec.structs.fields(cls)}
    values = {k: v for k, v in dataclasses.asdict(sub).items() if k in fields}
    return cls(**{**values, **extra})


async def _check_url(state: ApiState, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Problem(
            422,
            "url must be an absolute http(s) URL",
            kind="validation",
            errors=[{"field": "url", "message": "not an absolute http(s) URL"}],
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await state.policy.check_resolved(parts.hostname, port)
    except AddressBlocked as exc:
        raise Problem(
            422,
            f"url: {exc}",
            kind="forbidden-destination",
            errors=[{"field": "url", "message": str(exc)}],
        ) from None
    except (OSError, ValueError):
        raise Problem(
            422,
            f"url: the host {parts.hostname!r} does not resolve",
            kind="validation",
            errors=[{"field": "url", "message": "host does not resolve"}],
        ) from None


def _likes(event_types: list[str] | tuple[str, ...]) -> list[str]:
    return [glob_to_like(p) for p in event_types]


@required_scope("write")
async def create(request: web.Request) -> web.Response:
    state = request.app[API]
    body = decode_body(await request.read(), SubscriberIn)
    await _check_url(state, body.url)
    spec = SubscriberSpec(**msgspec.structs.asdict(body))
    secret = new_secret()
    try:
        sub = await store.create_subscriber(
            state.db, spec, secret=secret, likes=_likes(spec.event_types)
        )
    except Conflict:
        raise Problem(409, f"a subscriber named {body.name!r} exists", kind="conflict") from None
    return json_response(_out(sub, SubscriberCreated, secret=secret), status=201)


@required_scope("read")
async def list_(request: web.Request) -> web.Response:
    cursor, limit = page_params(request)
    subs = await store.list_subscribers(request.app[API].db, after=cursor, limit=limit + 1)
    more = len(subs) > limit
    subs = subs[:limit]
    return json_response(
        Page(data=[_out(s) for s in subs], next_cursor=subs[-1].id if more else None)
    )


@required_scope("read")
async def get(request: web.Request) -> web.Response:
    return json_response(_out(await _load(request)))


@required_scope("write")
async def update(request: web.Request) -> web.Response:
    state = request.app[API]
    current = await _load(request)
    patch = decode_body(await request.read(), SubscriberPatch)
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    if "url" in changes:
        await _check_url(state, changes["url"])
    spec_fields = {f.name for f in dataclasses.fields(SubscriberSpec)}
    base = {k: v for k, v in dataclasses.asdict(current).items() if k in spec_fields}
    spec = SubscriberSpec(**{**base, **changes})
    try:
        sub = await store.update_subscriber(
            state.db,
            current.id,
            spec,
            likes=_likes(spec.event_types),
            state=current.state,
            state_reason=current.state_reason,
        )
    except Conflict:
        raise Problem(409, f"a subscriber named {spec.name!r} exists", kind="conflict") from None
    return json_response(_out(sub))


@required_scope("write")
async def delete(request: web.Request) -> web.Response:
    sub = await _load(request)
    await store.delete_subscriber(request.app[API].db, sub.id)
    return web.Response(status=204)


async def _load(request: web.Request) -> Subscriber:
    sub_id = request.match_info["id"]
    try:
        return await store.get_subscriber(request.app[API].db, sub_id)
    except NotFound:
        raise Problem(404, f"no subscriber {sub_id}", kind="not-found") from None


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/subscribers", create)
    app.router.add_get(f"{prefix}/subscribers", list_)
    app.router.add_get(f"{prefix}/subscribers/{{id}}", get)
    app.router.add_patch(f"{prefix}/subscribers/{{id}}", update)
    app.router.add_delete(f"{prefix}/subscribers/{{id}}", delete)
