"""Scheme ``standard-webhooks``: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the secret is
``whsec_`` followed by base64, and the key is what that base64 decodes to. The signature
header holds space-separated ``v1,<base64>`` entries; any one matching is enough.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import (
    FAILED,
    Preset,
    check_tolerance,
    decode_signature,
    header_bytes,
    hmac_digest,
    matches_any,
    parse_timestamp,
    require_header,
)
from gateway.ingress.verify import VerificationFailed

__all__ = ["PRESET", "StandardWebhooksVerifier", "build", "decode_secret"]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
KEY_PREFIX = "whsec_"

PRESET = Preset(signature_header="webhook-signature", event_id=ID_HEADER, event_type="/type")


@dataclass(frozen=True, slots=True)
class StandardWebhooksVerifier:
    """Checks every ``v1`` entry against every key (rotation); ±tolerance on the timestamp."""

    header: str
    keys: tuple[bytes, ...]
    tolerance_seconds: float = 300

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`VerificationFailed` unless one key signed this request."""
        msg_id = require_header(headers, ID_HEADER)
        raw_ts = require_header(headers, TIMESTAMP_HEADER)
        entries = require_header(headers, self.header).split()
        timestamp = parse_timestamp(raw_ts)
        message = b".".join((header_bytes(msg_id), raw_ts.encode("ascii"), body))
        expected = [hmac_digest(key, message) for key in self.keys]
        if not matches_any(expected, _v1_signatures(entries)):
            raise VerificationFailed(FAILED)
        check_tolerance(timestamp, now, self.tolerance_seconds)


def _v1_signatures(entries: list[str]) -> list[bytes]:
    """The decoded ``v1`` signatures; other versions (``v1a``…) are skipped."""
    signatures: list[bytes] = []
    for entry in entries:
        version, sep, value = entry.partition(",")
        if not sep:
            raise VerificationFailed(FAILED)
        if version == "v1":
            signatures.append(decode_signature(value, "base64"))
    return signatures


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, padding too)."""
    encoded = secret.strip().removeprefix(KEY_PREFIX)
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a standard-webhooks secret must be 'whsec_' + base64") from None
    if not key:
        raise ValueError("a standard-webhooks secret must not be empty")
    return key


def build(source: SourceConfig) -> StandardWebhooksVerifier:
    """The verifier for a Standard Webhooks source; a secret that is not base64 is refused."""
    try:
        keys = tuple(decode_secret(secret) for secret in source.all_secrets)
    except ValueError as exc:
        raise ValueError(f"source {source.name!r}: {exc}") from None
    return StandardWebhooksVerifier(
        header=source.signature_header or "webhook-signature",
        keys=keys,
        tolerance_seconds=source.tolerance_seconds,
    )
