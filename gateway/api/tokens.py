"""``/api/v1/tokens/revoked``: revoke an API token by its ``jti``, and list revocations.

A revoked token is refused (401) by this process at once and by every other replica
within ``api.revocation_refresh_seconds``. Revoking is idempotent: a second revocation
of the same ``jti`` answers the first one. Revocations are never undone here; retention
deletes one an hour after its token expired.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from gateway.api.auth import AUTHENTICATOR, PRINCIPAL
from gateway.api.common import json_response
from gateway.api.endpoint import decode_query, endpoint
from gateway.api.fields import Timestamp
from gateway.api.models import Limit, decode_body
from gateway.api.revocation import MAX_JTI_LENGTH, MAX_REASON_LENGTH
from gateway.api.state import API
from gateway.store import tokens as store
from gateway.store.records import RevokedToken

__all__ = ["HANDLERS"]

Jti = Annotated[str, Meta(min_length=1, max_length=MAX_JTI_LENGTH)]


class RevocationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The token's ``jti``; give its ``exp`` as ``expires_at`` so the revocation can be
    deleted once the token has expired (without it, it is kept for ever)."""

    jti: Jti
    expires_at: Timestamp | None = None
    reason: Annotated[str, Meta(max_length=MAX_REASON_LENGTH)] | None = None


class RevokedTokenOut(msgspec.Struct, kw_only=True):
    jti: str
    revoked_at: Timestamp
    expires_at: Timestamp | None
    reason: str | None
    revoked_by: str


class RevokedTokenPage(msgspec.Struct, kw_only=True):
    data: list[RevokedTokenOut]
    next_cursor: str | None


class RevokedQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cursor: Jti | None = None
    limit: Limit = 100


def _out(entry: RevokedToken) -> RevokedTokenOut:
    return RevokedTokenOut(**dataclasses.asdict(entry))


@endpoint(
    "POST",
    "/tokens/revoked",
    scope="admin",
    summary="Revoke a token (by its jti)",
    tag="tokens",
    body=RevocationIn,
    response=RevokedTokenOut,
    errors=[422],
)
async def revoke(request: web.Request) -> web.Response:
    body = decode_body(await request.read(), RevocationIn)
    who = request[PRINCIPAL] or "api"
    entry = await store.revoke(request.app[API].db, body.jti, body.expires_at, body.reason, who)
    request.app[AUTHENTICATOR].revoked.add(entry.jti)
    return json_response(_out(entry))


@endpoint(
    "GET",
    "/tokens/revoked",
    scope="admin",
    summary="Revocations in force, newest first",
    tag="tokens",
    query=RevokedQuery,
    response=RevokedTokenPage,
)
async def list_revoked(request: web.Request) -> web.Response:
    query = decode_query(request, RevokedQuery)
    state = request.app[API]
    leeway = state.config.api.jwt_leeway_seconds
    rows = await store.list_revoked(state.db, leeway, after=query.cursor, limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return json_response(
        RevokedTokenPage(data=[_out(r) for r in rows], next_cursor=rows[-1].jti if more else None)
    )


HANDLERS = [revoke, list_revoked]
