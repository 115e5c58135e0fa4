"""Scheme ``hmac``: an HMAC of the body (or of ``"{timestamp}.{body}"``) in one header.

The building block of the Shopify, WooCommerce and GitHub schemes too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import (
    FAILED,
    REMEMBER_BODIES,
    Algorithm,
    Encoding,
    Preset,
    check_tolerance,
    decode_signature,
    hmac_digest,
    matches_any,
    parse_timestamp,
    require_header,
    secret_keys,
)
from gateway.ingress.verify import VerificationFailed

__all__ = ["PRESET", "HmacVerifier", "build"]

# Remembered also with a timestamp header: the event id is still not signed, so a capture
# could be sent again under new ids for as long as the tolerance lasts.
PRESET = Preset(replay_window_seconds=REMEMBER_BODIES)


@dataclass(frozen=True, slots=True)
class HmacVerifier:
    """Checks ``header: {prefix}{encoded HMAC}`` against every key (rotation).

    With ``timestamp_header`` the signed content is ``"{timestamp}.{body}"`` and the
    timestamp must lie within ``tolerance_seconds`` of now, either way.
    """

    header: str
    keys: tuple[bytes, ...]
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    tolerance_seconds: float = 300

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`VerificationFailed` unless one key signed this request."""
        value = require_header(headers, self.header)
        if not value.startswith(self.prefix):
            raise VerificationFailed(FAILED)
        given = decode_signature(value[len(self.prefix) :], self.encoding)
        timestamp: int | None = None
        message = body
        if self.timestamp_header is not None:
            raw = require_header(headers, self.timestamp_header)
            timestamp = parse_timestamp(raw)
            message = raw.encode("ascii") + b"." + body
        expected = (hmac_digest(key, message, self.algorithm) for key in self.keys)
        if not matches_any(expected, [given]):
            raise VerificationFailed(FAILED)
        if timestamp is not None:
            check_tolerance(timestamp, now, self.tolerance_seconds)


def build(source: SourceConfig) -> HmacVerifier:
    """The verifier for a source of scheme ``hmac``; ``signature_header`` is required."""
    if not source.signature_header:
        raise ValueError(f"source {source.name!r}: scheme 'hmac' needs signature_header")
    return HmacVerifier(
        header=source.signature_header,
        keys=secret_keys(source),
        algorithm=source.algorithm,
        encoding=source.encoding,
        prefix=source.signature_prefix,
        timestamp_header=source.timestamp_header,
        tolerance_seconds=source.tolerance_seconds,
    )
