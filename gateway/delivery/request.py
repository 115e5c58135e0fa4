"""The outbound request of one attempt: its body (full, thin or transformed) and headers.

Headers, later ones winning: inbound headers on the forward allowlist (the subscriber's
own list, else ``delivery.forward_headers``), then the subscriber's static headers, then
those its transform added, then what the gateway sets itself: the content type, the
Standard Webhooks signature set (one signature per valid secret, so a rotation needs no
downtime) and ``x-gateway-*``.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime

import orjson

from gateway.delivery.links import PayloadLinks
from gateway.delivery.signer import signature_header
from gateway.delivery.transforms import Reshaped
from gateway.domain.privacy import hide_headers
from gateway.store.records import ClaimedDelivery

__all__ = ["Outbound", "build_request", "forwarded_headers", "is_thin"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SET_BY_US = frozenset({"host", "content-length", "content-type", "content-encoding", "expect"})
_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclasses.dataclass(frozen=True, slots=True)
class Outbound:
    body: bytes
    headers: dict[str, str]
    url: str | None = None
    """Where an HTTP subscriber's request goes (a transform's path and query added);
    ``None`` for a broker destination."""


def _ours(name: str) -> bool:
    """Headers only the gateway sets (a subscriber's static headers may set the rest)."""
    lower = name.lower()
    return lower.startswith(("webhook-", "x-gateway-")) or lower in _HOP_BY_HOP | _SET_BY_US


def _merge(headers: dict[str, str], extra: dict[str, str]) -> None:
    """Add ``extra``, replacing any header of the same name whatever its case."""
    names = {k.lower() for k in extra}
    for existing in [k for k in headers if k.lower() in names]:
        del headers[existing]
    headers.update(extra)


def forwarded_headers(
    claimed: ClaimedDelivery, default_allowlist: tuple[str, ...]
) -> dict[str, str]:
    """The event's stored inbound headers that the allowlist names (never reserved ones or
    credentials; a signature's value hidden, as everywhere it leaves the gateway)."""
    allow = claimed.forward_headers if claimed.forward_headers is not None else default_allowlist
    wanted = _forwardable(tuple(allow))
    if not wanted:
        return {}
    return hide_headers(
        {name: value for name, value in claimed.event_headers.items() if name.lower() in wanted}
    )


@functools.lru_cache(maxsize=256)
def _forwardable(allow: tuple[str, ...]) -> frozenset[str]:
    """The lower-case names an allowlist lets through (never reserved ones or credentials)."""
    return frozenset(
        name.lower() for name in allow if not _ours(name) and name.lower() not in _CREDENTIALS
    )


def is_thin(claimed: ClaimedDelivery) -> bool:
    """Thin when the subscriber asks for it, or when the body is above its threshold."""
    threshold = claimed.thin_above_bytes
    return claimed.payload_mode == "thin" or (
        threshold is not None and len(claimed.body) > threshold
    )


def _thin_body(claimed: ClaimedDelivery, links: PayloadLinks, now: float) -> bytes:
    return orjson.dumps(
        {
            "id": claimed.event_id,
            "type": claimed.event_type,
            "source": claimed.source,
            "received_at": claimed.received_at.astimezone(UTC).isoformat(),
            "size": len(claimed.body),
            "url": links.url(claimed.event_id, now),
        }
    )


def build_request(
    claimed: ClaimedDelivery,
    forward_allowlist: tuple[str, ...],
    links: PayloadLinks | None,
    now: datetime,
    reshaped: Reshaped | None = None,
) -> Outbound:
    """Body and headers of the attempt at ``now`` (its ``webhook-timestamp``); with
    ``reshaped`` (what the subscriber's transform made of it), its body and headers."""
    timestamp = int(now.timestamp())
    thin = reshaped is None and links is not None and is_thin(claimed)
    if thin and links is not None:
        body = _thin_body(claimed, links, now.timestamp())
        content_type = "application/json"
    elif reshaped is not None and reshaped.body is not None:
        body = reshaped.body
        content_type = reshaped.content_type or "application/json"
    elif reshaped is not None and reshaped.content_type:
        body, content_type = claimed.body, reshaped.content_type
    else:
        body = claimed.body
        content_type = claimed.content_type or "application/octet-stream"
    keys = [claimed.secret]
    expires = claimed.previous_secret_expires_at
    if claimed.previous_secret and expires is not None and expires > now:
        keys.append(claimed.previous_secret)
    headers = forwarded_headers(claimed, forward_allowlist)
    _merge(headers, {k: v for k, v in claimed.subscriber_headers.items() if not _ours(k)})
    if reshaped is not None:
        _merge(headers, dict(reshaped.headers))
    _merge(
        headers,
        {
            "Content-Type": content_type,
            "webhook-id": claimed.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(keys, claimed.event_id, timestamp, body),
            "x-gateway-source": claimed.source,
            "x-gateway-delivery-id": claimed.id,
            "x-gateway-attempt": str(claimed.total_attempts),
        },
    )
    if claimed.event_type:
        headers["x-gateway-event-type"] = claimed.event_type
    if thin:
        headers["x-gateway-payload"] = "thin"
    url = claimed.url
    if url is not None and reshaped is not None:
        url = reshaped.url(url)
    return Outbound(body, headers, url)
