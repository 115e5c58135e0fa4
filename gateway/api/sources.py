"""``/api/v1/sources``: senders managed through the API, beside those of the config file.

The body of a source is the ``[[sources]]`` table of the config file, as JSON. Secrets
go in and never come out: answers say how many secrets a source has, not what they are.
Sources from the config file are listed (``managed_by: "config"``) and read-only here.

A source that reads a queue (``receive``) names a broker of the config file, of the same
kind; the broker's address and credentials never pass through here. Its answer carries
``reader``: how this process reads the queue (its state, counts and recent poison
messages), where this process reads sources (roles ``all`` and ``ingress``; elsewhere
``null``: each ingress replica's ``/readyz`` and the ``gateway_source_*`` metrics say).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from gateway.api.common import json_response
from gateway.api.endpoint import endpoint
from gateway.api.fields import Timestamp
from gateway.api.models import decode_body
from gateway.api.state import API
from gateway.brokers.config import broker_problem
from gateway.config import Config, ConfigError
from gateway.domain.receive import ReaderStatus
from gateway.domain.source import SourceConfig
from gateway.http.problems import Problem
from gateway.ingress.registry import source_from_spec
from gateway.ingress.schemes import apply_preset
from gateway.store import Conflict, NotFound
from gateway.store import sources as store

__all__ = ["HANDLERS", "public_spec"]

SECRET_FIELDS = ("secret", "secrets")
_CONFIG_FIELDS = msgspec.structs.fields(SourceConfig)

SourcePatch = msgspec.defstruct(
    "SourcePatch",
    [
        (f.name, f.type | msgspec.UnsetType, msgspec.UNSET)
        for f in _CONFIG_FIELDS
        if f.name != "name"
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
SourceOut = msgspec.defstruct(
    "SourceOut",
    [(f.name, f.type) for f in _CONFIG_FIELDS if f.name not in SECRET_FIELDS]
    + [
        ("secret_count", int),
        ("managed_by", str),
        ("created_at", Timestamp),
        ("updated_at", Timestamp),
        ("reader", ReaderStatus | None, None),
    ],
    kw_only=True,
)


class SourceList(msgspec.Struct, kw_only=True):
    data: list[SourceOut]  # type: ignore[valid-type]


def public_spec(source: SourceConfig) -> dict[str, Any]:
    """The source without its secrets, and how many it has."""
    spec: dict[str, Any] = msgspec.to_builtins(source)
    for name in SECRET_FIELDS:
        spec.pop(name, None)
    spec["secret_count"] = len(source.all_secrets)
    return spec


def _out(row: store.StoredSource, readers: Mapping[str, ReaderStatus]) -> Any:
    spec = dict(row.spec)
    count = spec.pop("secret_count", None)
    if count is None:
        count = len([s for s in [spec.get("secret"), *spec.get("secrets", [])] if s])
    for name in SECRET_FIELDS:
        spec.pop(name, None)
    effective = msgspec.to_builtins(apply_preset(msgspec.convert(spec, SourceConfig)))
    fields = {f.name for f in msgspec.structs.fields(SourceOut)}
    values = {k: v for k, v in effective.items() if k in fields}
    values.update(secret_count=count, managed_by=row.managed_by, created_at=row.created_at,
                  updated_at=row.updated_at)  # fmt: skip
    out = msgspec.convert(values, SourceOut, from_attributes=False, strict=False)
    return msgspec.structs.replace(out, reader=readers.get(row.name))


def _usable(spec: dict[str, Any], config: Config) -> None:
    """422 unless the source can serve: its own rules, and a broker of the config file
    of its queue's kind."""
    try:
        receive = source_from_spec(spec).config.receive
    except ValueError as exc:
        raise Problem(422, str(exc), kind="validation") from None
    problem = receive and broker_problem(config.brokers, receive.broker, receive.kind)
    if problem:
        refused = ConfigError("<api>", "source.receive.broker", problem)
        raise Problem(422, str(refused), kind="validation")


@endpoint(
    "GET", "/sources", scope="read", summary="List sources", tag="sources", response=SourceList
)
async def list_sources(request: web.Request) -> web.Response:
    state = request.app[API]
    rows = await store.list_sources(state.db)
    readers = state.readers()
    return json_response(SourceList(data=[_out(r, readers) for r in rows]))


@endpoint("GET", "/sources/{name}", scope="read", summary="One source", tag="sources",
          response=SourceOut, errors=[404])  # fmt: skip
async def get_source(request: web.Request) -> web.Response:
    return json_response(_out(await _load(request), request.app[API].readers()))


@endpoint("POST", "/sources", scope="write", summary="Add a source", tag="sources", status=201,
          body=SourceConfig, response=SourceOut, errors=[409, 422])  # fmt: skip
async def create_source(request: web.Request) -> web.Response:
    state = request.app[API]
    source = decode_body(await request.read(), SourceConfig)
    spec = msgspec.to_builtins(source)
    _usable(spec, state.config)
    try:
        row = await store.create_source(state.db, source.name, spec)
    except Conflict:
        raise Problem(409, f"a source named {source.name!r} exists", kind="conflict") from None
    return json_response(_out(row, state.readers()), status=201)


@endpoint("PATCH", "/sources/{name}", scope="write", summary="Change a source", tag="sources",
          body=SourcePatch, response=SourceOut, errors=[404, 409, 422])  # fmt: skip
async def update_source(request: web.Request) -> web.Response:
    current = await _load(request)
    _writable(current)
    patch = decode_body(await request.read(), SourcePatch)
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    spec = {**current.spec, **msgspec.to_builtins(changes)}
    state = request.app[API]
    _usable(spec, state.config)
    try:
        row = await store.update_source(state.db, current.name, spec)
    except Conflict as exc:
        raise Problem(409, str(exc), kind="managed-by-config") from None
    return json_response(_out(row, state.readers()))


@endpoint("DELETE", "/sources/{name}", scope="write", summary="Remove a source", tag="sources",
          status=204, errors=[404, 409])  # fmt: skip
async def delete_source(request: web.Request) -> web.Response:
    current = await _load(request)
    _writable(current)
    try:
        await store.delete_source(request.app[API].db, current.name)
    except Conflict as exc:
        raise Problem(409, str(exc), kind="managed-by-config") from None
    return web.Response(status=204)


def _writable(row: store.StoredSource) -> None:
    if row.managed_by == "config":
        raise Problem(
            409,
            f"source {row.name!r} is declared in the config file; change it there",
            kind="managed-by-config",
        )


async def _load(request: web.Request) -> store.StoredSource:
    name = request.match_info["name"]
    try:
        return await store.get_source(request.app[API].db, name)
    except NotFound:
        raise Problem(404, f"no source {name!r}", kind="not-found") from None


HANDLERS = [list_sources, get_source, create_source, update_source, delete_source]
