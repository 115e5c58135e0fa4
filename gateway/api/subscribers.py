"""``/api/v1/subscribers``: register, list, read, change and remove subscribers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from gateway.api.common import json_response, page_params
from gateway.api.endpoint import add_endpoints, endpoint
from gateway.api.models import (
    FlowOut,
    PageQuery,
    SubscriberCreated,
    SubscriberIn,
    SubscriberOut,
    SubscriberPage,
    SubscriberPatch,
    decode_body,
    invalid,
)
from gateway.api.state import API, ApiState
from gateway.brokers.config import broker_problem
from gateway.config.egress import egress_problem
from gateway.delivery.signer import new_secret
from gateway.delivery.ssrf import AddressBlocked
from gateway.domain.destination import InvalidDestination
from gateway.domain.privacy import HIDDEN, hide_headers
from gateway.domain.subscriber import SubscriberSettings, url_destination
from gateway.domain.validation import Invalid
from gateway.http.problems import Problem
from gateway.store import Conflict, NotFound, flow
from gateway.store import subscribers as store
from gateway.store.records import Subscriber, SubscriberFlow

__all__ = ["HANDLERS", "add_routes", "load_subscriber", "refuse_if_declared", "subscriber_out"]


def subscriber_out(
    sub: Subscriber,
    flows: Mapping[str, SubscriberFlow] | None = None,
    cls: type[SubscriberOut] = SubscriberOut,
    **extra: object,
) -> SubscriberOut:
    """The API's view of ``sub``, with its live flow state when ``flows`` has it."""
    fields = {f.name for f in msgspec.structs.fields(cls)}
    values = {k: v for k, v in msgspec.structs.asdict(sub).items() if k in fields}
    values["headers"] = hide_headers(sub.headers)
    state = (flows or {}).get(sub.id)
    if state is not None:
        values["flow"] = FlowOut(
            in_flight=state.in_flight,
            circuit_state=state.circuit_state,
            circuit_open_until=state.open_until,
            consecutive_failures=state.consecutive_failures,
            failing_since=state.failing_since,
            throttled_until=state.throttled_until,
        )
    return cls(**{**values, **extra})


def _invalid_url(message: str, detail: str, kind: str = "validation") -> Problem:
    return Problem(422, f"url: {detail}", kind=kind, errors=[{"field": "url", "message": message}])


async def _check_destination(state: ApiState, settings: SubscriberSettings) -> None:
    """A URL: absolute http(s), read as delivery reads it, https when asked, and no
    private or reserved destination. A broker destination: a broker of its kind that the
    config file declares."""
    to = settings.destination
    if to is not None:
        problem = broker_problem(state.config.brokers, to.broker, to.kind)
        if problem:
            raise invalid("destination.broker", problem)
        return
    try:
        target = url_destination(settings)
    except InvalidDestination as exc:
        raise _invalid_url(str(exc), str(exc)) from None
    assert target is not None
    try:
        await state.policy.check_resolved(target.host, target.port)
    except AddressBlocked as exc:
        raise _invalid_url(str(exc), str(exc), "forbidden-destination") from None
    except (OSError, ValueError):
        raise _invalid_url(
            "host does not resolve", f"the host {target.host!r} does not resolve"
        ) from None


def _check_egress(state: ApiState, settings: SubscriberSettings) -> None:
    """The proxy and TLS profile named are declared in the config file's ``[egress]``."""
    found = egress_problem(state.config.egress, settings)
    if found:
        raise invalid(*found)


def _kept_secrets(given: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """``given`` headers, where ``[hidden]`` (how the API shows a secret header's value)
    keeps the value stored under that name, so what was read can be sent back."""
    current = {name.lower(): value for name, value in stored.items()}
    kept: dict[str, str] = {}
    for name, value in given.items():
        if value == HIDDEN:
            if name.lower() not in current:
                message = f"{HIDDEN} keeps a stored value, and none is stored; send the value"
                raise Problem(
                    422,
                    f"headers.{name}: {message}",
                    kind="validation",
                    errors=[{"field": f"headers.{name}", "message": message}],
                )
            value = current[name.lower()]
        kept[name] = value
    return kept


@endpoint(
    "POST",
    "/subscribers",
    scope="write",
    summary="Register a subscriber; its secret is shown once",
    tag="subscribers",
    status=201,
    body=SubscriberIn,
    response=SubscriberCreated,
    errors=[409, 422],
)
async def create(request: web.Request) -> web.Response:
    state = request.app[API]
    body = decode_body(await request.read(), SubscriberIn)
    await _check_destination(state, body)
    _check_egress(state, body)
    settings = msgspec.structs.replace(body, headers=_kept_secrets(body.headers, {}))
    secret = new_secret()
    try:
        sub = await store.create_subscriber(state.db, settings, secret=secret)
    except Conflict:
        raise Problem(409, f"a subscriber named {body.name!r} exists", kind="conflict") from None
    flows = await flow.get_flows(state.db, [sub.id])
    return json_response(subscriber_out(sub, flows, SubscriberCreated, secret=secret), status=201)


@endpoint(
    "GET",
    "/subscribers",
    scope="read",
    summary="List subscribers",
    tag="subscribers",
    query=PageQuery,
    response=SubscriberPage,
)
async def list_(request: web.Request) -> web.Response:
    db = request.app[API].db
    cursor, limit = page_params(request)
    subs = await store.list_subscribers(db, after=cursor, limit=limit + 1)
    more = len(subs) > limit
    subs = subs[:limit]
    flows = await flow.get_flows(db, [s.id for s in subs])
    return json_response(
        SubscriberPage(
            data=[subscriber_out(s, flows) for s in subs], next_cursor=subs[-1].id if more else None
        )
    )


@endpoint(
    "GET",
    "/subscribers/{id}",
    scope="read",
    summary="One subscriber",
    tag="subscribers",
    response=SubscriberOut,
    errors=[404],
)
async def get(request: web.Request) -> web.Response:
    sub = await load_subscriber(request)
    return json_response(subscriber_out(sub, await flow.get_flows(request.app[API].db, [sub.id])))


@endpoint(
    "PATCH",
    "/subscribers/{id}",
    scope="write",
    summary="Change a subscriber",
    tag="subscribers",
    body=SubscriberPatch,
    response=SubscriberOut,
    errors=[404, 409, 422],
)
async def update(request: web.Request) -> web.Response:
    state = request.app[API]
    current = await load_subscriber(request)
    refuse_if_declared(current)
    patch = decode_body(await request.read(), SubscriberPatch)
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET
    }
    if "headers" in changes:
        changes["headers"] = _kept_secrets(changes["headers"], current.headers)
    _switch_destination(changes)
    try:
        settings = msgspec.structs.replace(current, **changes)
    except Invalid as exc:  # a rule the Struct checks itself (a filter's)
        raise invalid(exc.field, exc.reason) from None
    if {"url", "destination"} & changes.keys() or changes.get("https_only"):
        await _check_destination(state, settings)
    if {"proxy", "tls", "url"} & changes.keys():
        _check_egress(state, settings)
    try:
        sub = await store.update_subscriber(
            state.db, current.id, settings, state=current.state, state_reason=current.state_reason
        )
    except Conflict:
        raise Problem(
            409, f"a subscriber named {settings.name!r} exists", kind="conflict"
        ) from None
    return json_response(subscriber_out(sub, await flow.get_flows(state.db, [sub.id])))


@endpoint(
    "DELETE",
    "/subscribers/{id}",
    scope="write",
    summary="Remove a subscriber and its deliveries",
    tag="subscribers",
    status=204,
    errors=[404, 409],
)
async def delete(request: web.Request) -> web.Response:
    sub = await load_subscriber(request)
    refuse_if_declared(sub)
    await store.delete_subscriber(request.app[API].db, sub.id)
    return web.Response(status=204)


def _switch_destination(changes: dict[str, Any]) -> None:
    """A patch that sets a URL (or a broker destination) and leaves the other out moves
    the subscriber there: the other is cleared (and ``https_only``, ``proxy`` and ``tls``,
    which only a URL has, when it moves into a broker)."""
    for given, other in (("url", "destination"), ("destination", "url")):
        if changes.get(given) is not None and other not in changes:
            changes[other] = None
    if changes.get("destination") is not None:
        changes.setdefault("https_only", False)
        changes.setdefault("proxy", None)
        changes.setdefault("tls", None)


def refuse_if_declared(sub: Subscriber) -> None:
    """Subscribers from the config file change there, not through the API."""
    if sub.managed_by == "config":
        raise Problem(
            409,
            f"subscriber {sub.name!r} is declared in the config file; change it there",
            kind="managed-by-config",
        )


async def load_subscriber(request: web.Request) -> Subscriber:
    """The subscriber named by the ``{id}`` of the path, or a 404 problem."""
    sub_id = request.match_info["id"]
    try:
        return await store.get_subscriber(request.app[API].db, sub_id)
    except NotFound:
        raise Problem(404, f"no subscriber {sub_id}", kind="not-found") from None


HANDLERS = [create, list_, get, update, delete]


def add_routes(app: web.Application, prefix: str) -> None:
    add_endpoints(app, prefix, HANDLERS)
