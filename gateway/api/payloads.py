"""``GET /payloads/v1/{event_id}``: the original body behind a thin payload's signed link.

Served on the ingress listener (subscribers reach it where senders do). No token: the
link's signature and expiry are the credential. A forged or altered link is 403, an
expired one 410.
"""

from __future__ import annotations

import dataclasses
import time

from aiohttp import web

from gateway.delivery.links import LINK_PATH, PayloadLinks
from gateway.http.problems import Problem
from gateway.store import NotFound
from gateway.store import events as store
from gateway.store.database import Database

__all__ = ["PAYLOADS", "PayloadState", "add_payload_routes"]


@dataclasses.dataclass(slots=True)
class PayloadState:
    db: Database
    links: PayloadLinks


PAYLOADS = web.AppKey("payloads", PayloadState)


async def get_payload(request: web.Request) -> web.Response:
    state = request.app[PAYLOADS]
    event_id = request.match_info["event_id"]
    verdict = state.links.check(
        event_id, request.query.get("expires", ""), request.query.get("sig", ""), time.time()
    )
    if verdict == "forged":
        raise Problem(403, "this link is not valid", kind="invalid-link")
    if verdict == "expired":
        raise Problem(410, "this link has expired", kind="link-expired")
    try:
        event = await store.get_event(state.db, event_id)
    except NotFound:
        raise Problem(404, "the event is no longer stored", kind="not-found") from None
    headers = {
        "Content-Type": event.content_type or "application/octet-stream",
        "Cache-Control": "private, no-store",
    }
    return web.Response(body=event.body, headers=headers)


def add_payload_routes(app: web.Application, state: PayloadState) -> None:
    app[PAYLOADS] = state
    app.router.add_get(LINK_PATH, get_payload)
