"""Scheme ``shopify``: ``X-Shopify-Hmac-Sha256``, base64 HMAC-SHA256 of the raw body."""

from __future__ import annotations

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import REMEMBER_BODIES, Preset, secret_keys
from gateway.ingress.schemes.generic import HmacVerifier

__all__ = ["PRESET", "build"]

PRESET = Preset(
    signature_header="X-Shopify-Hmac-Sha256",
    event_id="X-Shopify-Webhook-Id",
    event_type="X-Shopify-Topic",
    replay_window_seconds=REMEMBER_BODIES,
)


def build(source: SourceConfig) -> HmacVerifier:
    """The verifier for a Shopify source."""
    return HmacVerifier(
        header=source.signature_header or "X-Shopify-Hmac-Sha256",
        keys=secret_keys(source),
        encoding="base64",
    )
