"""``Idempotency-Key`` on POST: a retried request gets the first request's answer.

The key is scoped to the token's subject and kept for ``api.idempotency_hours``. A second
request with the same key and a different body is refused (422); one that arrives while
the first is still running waits for its answer (bounded), then gets it.
"""

from __future__ import annotations

import asyncio
import hashlib

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.auth import PRINCIPAL
from gateway.api.state import API
from gateway.http.problems import Problem, problem_response
from gateway.store import idempotency as store

__all__ = ["idempotency_middleware"]

HEADER = "Idempotency-Key"
WAIT_SECONDS = 10.0


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None or PRINCIPAL not in request:
        return await handler(request)
    if not 1 <= len(key) <= 255:
        raise Problem(400, f"{HEADER} must be 1 to 255 characters", kind="invalid-idempotency-key")
    state = request.app[API]
    principal = request[PRINCIPAL]
    digest = hashlib.sha256(request.method.encode() + request.path.encode() + await request.read())
    ttl = state.config.api.idempotency_hours * 3600
    async with asyncio.timeout(WAIT_SECONDS + 5):
        return await _answer(request, handler, principal, key, digest.hexdigest(), ttl)


async def _answer(
    request: web.Request,
    handler: Handler,
    principal: str,
    key: str,
    request_hash: str,
    ttl: float,
) -> web.StreamResponse:
    db = request.app[API].db
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        claim = await store.claim(
            db, principal, key, request.method, request.path, request_hash, ttl
        )
        if claim.owned:
            return await _run_and_keep(request, handler, principal, key)
        earlier = claim.earlier
        if earlier is not None and earlier.request_hash != request_hash:
            raise Problem(
                422, f"this {HEADER} was used for a different request", kind="idempotency-mismatch"
            )
        if earlier is not None and earlier.status is not None:
            response = web.Response(status=earlier.status, body=earlier.body or b"")
            if earlier.content_type:
                response.content_type = earlier.content_type
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if asyncio.get_running_loop().time() > deadline:
            raise Problem(
                409, f"a request with this {HEADER} is still in progress", kind="conflict"
            )
        await asyncio.sleep(0.05)


async def _run_and_keep(
    request: web.Request, handler: Handler, principal: str, key: str
) -> web.StreamResponse:
    db = request.app[API].db
    try:
        response: web.StreamResponse = await handler(request)
    except Problem as problem:
        if problem.status >= 500:
            await store.release(db, principal, key)
            raise
        response = problem_response(problem, request.path)
    except BaseException:
        await asyncio.shield(store.release(db, principal, key))
        raise
    if isinstance(response, web.Response) and response.status < 500:
        body = response.body if isinstance(response.body, bytes) else b""
        await store.complete(db, principal, key, response.status, response.content_type, body)
    else:
        await store.release(db, principal, key)
    return response
