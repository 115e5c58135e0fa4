"""Scheme ``woocommerce``: ``X-WC-Webhook-Signature``, base64 HMAC-SHA256 of the raw body.

When a webhook is created, WooCommerce first sends an unsigned, form-encoded ping
(``webhook_id=N``) and disables the webhook unless it is answered 200; see
:func:`is_woocommerce_ping`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.config import SourceConfig
from gateway.domain.media import media_type
from gateway.ingress.schemes.common import REMEMBER_BODIES, Preset, secret_keys
from gateway.ingress.schemes.generic import HmacVerifier

__all__ = ["PRESET", "SIGNATURE_HEADER", "build", "is_woocommerce_ping", "may_be_ping"]

SIGNATURE_HEADER = "X-WC-Webhook-Signature"

PRESET = Preset(
    signature_header=SIGNATURE_HEADER,
    event_id="X-WC-Webhook-Delivery-ID",
    event_type="X-WC-Webhook-Topic",
    replay_window_seconds=REMEMBER_BODIES,
)

_PING_BODY = re.compile(rb"webhook_id=[0-9]{1,20}")
_PING_MAX_BYTES = 64
_PING_TYPES = frozenset({"", "application/x-www-form-urlencoded", "application/octet-stream"})


def build(source: SourceConfig) -> HmacVerifier:
    """The verifier for a WooCommerce source."""
    return HmacVerifier(
        header=source.signature_header or SIGNATURE_HEADER,
        keys=secret_keys(source),
        encoding="base64",
    )


def may_be_ping(headers: Mapping[str, str], content_length: int | None) -> bool:
    """Whether a request to a WooCommerce source may be the creation ping: unsigned, small
    and form-encoded (or of no declared type). Its body is then read to see.

    The ping is form-encoded even when the source accepts only JSON, so it is looked for
    before the content type is checked.
    """
    return (
        SIGNATURE_HEADER not in headers
        and media_type(headers.get("Content-Type")) in _PING_TYPES
        and (content_length or 0) <= _PING_MAX_BYTES
    )


def is_woocommerce_ping(headers: Mapping[str, str], body: bytes, content_type: str | None) -> bool:
    """Whether this request is the unsigned creation ping, to answer 200 without storing.

    It is one only when there is no signature header and the body is exactly
    ``webhook_id=<digits>``, sent form-encoded (or with no declared type, which aiohttp
    reports as ``application/octet-stream``).
    """
    if headers.get(SIGNATURE_HEADER) is not None:
        return False
    return (
        media_type(content_type) in _PING_TYPES and _PING_BODY.fullmatch(body.strip()) is not None
    )
