"""Declare an API route once: path, scope, typed query/body/response — for routing,
authorization and the OpenAPI document alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.auth import required_scope
from gateway.domain.validation import describe
from gateway.http.problems import Problem

__all__ = ["ENDPOINT", "Endpoint", "add_endpoints", "decode_query", "endpoint"]

ENDPOINT = "__gateway_endpoint__"
H = TypeVar("H", bound=Handler)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # relative to the API prefix, e.g. "/subscribers/{id}"
    scope: str
    summary: str
    tag: str
    status: int = 200
    query: type | None = None
    body: type | None = None
    response: type | None = None
    errors: tuple[int, ...] = ()


def endpoint(
    method: str,
    path: str,
    *,
    scope: str,
    summary: str,
    tag: str,
    status: int = 200,
    query: type | None = None,
    body: type | None = None,
    response: type | None = None,
    errors: Iterable[int] = (),
) -> Callable[[H], H]:
    """Mark a handler as an API endpoint with everything the document needs."""
    spec = Endpoint(method, path, scope, summary, tag, status, query, body, response, tuple(errors))

    def mark(handler: H) -> H:
        setattr(handler, ENDPOINT, spec)
        return required_scope(scope)(handler)  # type: ignore[no-any-return]

    return mark


def add_endpoints(app: web.Application, prefix: str, handlers: Iterable[Handler]) -> None:
    for handler in handlers:
        spec: Endpoint = getattr(handler, ENDPOINT)
        app.router.add_route(spec.method, prefix + spec.path, handler)


def decode_query(request: web.Request, model: type[T]) -> T:
    """Validate the query string against ``model``; a 400 problem names the parameter."""
    known = {f.name for f in msgspec.structs.fields(model)}  # type: ignore[arg-type]
    unknown = sorted(set(request.query) - known)
    if unknown:
        raise Problem(400, f"unknown query parameter {unknown[0]!r}", kind="invalid-parameter")
    values: dict[str, Any] = {k: request.query.getone(k) for k in request.query}
    try:
        return msgspec.convert(values, model, strict=False)
    except msgspec.ValidationError as exc:
        path, reason = describe(exc)
        field = path or "query"
        raise Problem(
            400,
            f"{field}: {reason}",
            kind="invalid-parameter",
            errors=[{"field": field, "message": reason}],
        ) from None
