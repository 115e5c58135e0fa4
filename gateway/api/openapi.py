"""The OpenAPI 3.1 document, generated from the endpoints' own types — never by hand."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp.typedefs import Handler

from gateway import __version__
from gateway.api.endpoint import ENDPOINT, Endpoint

__all__ = ["build_document"]

REF = "#/components/schemas/{name}"
_DEFAULT_ERRORS = {400: "Bad request", 401: "Missing or invalid token", 403: "Missing scope"}
_ERROR_TEXT = {404: "Not found", 409: "Conflict", 422: "Validation failed", 503: "Unavailable"}


class ProblemDetail(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


def build_document(prefix: str, handlers: Iterable[Handler]) -> dict[str, Any]:
    specs = [getattr(h, ENDPOINT) for h in handlers]
    types = {t for s in specs for t in (s.body, s.response) if t is not None} | {ProblemDetail}
    ordered = sorted(types, key=lambda t: t.__name__)
    refs, components = msgspec.json.schema_components(ordered, ref_template=REF)
    ref_of = dict(zip(ordered, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(prefix + spec.path, {})[spec.method.lower()] = _operation(spec, ref_of)
    return {
        "openapi": "3.1.0",
        "info": {"title": "webhook-gateway admin API", "version": __version__},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


def _operation(spec: Endpoint, ref_of: dict[type, dict[str, Any]]) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": ref_of[ProblemDetail]}}
    responses: dict[str, Any] = {}
    if spec.response is None:
        responses[str(spec.status)] = {"description": "Done"}
    else:
        content = {"application/json": {"schema": ref_of[spec.response]}}
        responses[str(spec.status)] = {"description": "OK", "content": content}
    for code, text in {
        **_DEFAULT_ERRORS,
        **{c: _ERROR_TEXT.get(c, "Error") for c in spec.errors},
    }.items():
        responses[str(code)] = {"description": text, "content": problem}
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec),
        "summary": spec.summary,
        "tags": [spec.tag],
        "description": f"Requires the `{spec.scope}` scope (or `admin`).",
        "responses": responses,
        "parameters": _parameters(spec),
    }
    if spec.body is not None:
        fields = msgspec.structs.fields(spec.body)
        operation["requestBody"] = {
            "required": any(f.required for f in fields),
            "content": {"application/json": {"schema": ref_of[spec.body]}},
        }
    return operation


def _operation_id(spec: Endpoint) -> str:
    words = [w.strip("{}") for w in spec.path.strip("/").split("/")]
    return "_".join([spec.method.lower(), *words])


def _parameters(spec: Endpoint) -> list[dict[str, Any]]:
    params = [
        {
            "name": part[1:-1],
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
        for part in spec.path.split("/")
        if part.startswith("{")
    ]
    if spec.query is not None:
        _, components = msgspec.json.schema_components([spec.query], ref_template=REF)
        body = components[spec.query.__name__]
        required = set(body.get("required", ()))
        for name, prop in body.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch of an optional."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if "anyOf" in schema and len(branches) == 1:
        rest = {k: v for k, v in schema.items() if k not in {"anyOf", "default"}}
        return {**branches[0], **rest}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}
