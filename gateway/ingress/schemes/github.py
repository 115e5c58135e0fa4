"""Scheme ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import REMEMBER_BODIES, Preset, secret_keys
from gateway.ingress.schemes.generic import HmacVerifier

__all__ = ["PRESET", "build"]

PRESET = Preset(
    signature_header="X-Hub-Signature-256",
    event_id="X-GitHub-Delivery",
    event_type="X-GitHub-Event",
    replay_window_seconds=REMEMBER_BODIES,
)


def build(source: SourceConfig) -> HmacVerifier:
    """The verifier for a GitHub source."""
    return HmacVerifier(
        header=source.signature_header or "X-Hub-Signature-256",
        keys=secret_keys(source),
        encoding="hex",
        prefix="sha256=",
    )
