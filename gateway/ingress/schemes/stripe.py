"""Scheme ``stripe``: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]``.

The signed content is ``"{t}.{body}"``; the key is the ``whsec_…`` string itself as
UTF-8 bytes (it is not decoded). ``t`` must be within the tolerance, past or future.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import (
    FAILED,
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

__all__ = ["PRESET", "StripeVerifier", "build"]

PRESET = Preset(signature_header="Stripe-Signature", event_id="/id", event_type="/type")


@dataclass(frozen=True, slots=True)
class StripeVerifier:
    """Checks every ``v1`` entry of the header against every key (rotation)."""

    header: str
    keys: tuple[bytes, ...]
    tolerance_seconds: float = 300

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`VerificationFailed` unless one key signed this request."""
        raw_t, signatures = _parse(require_header(headers, self.header))
        timestamp = parse_timestamp(raw_t)
        message = raw_t.encode("ascii") + b"." + body
        expected = (hmac_digest(key, message) for key in self.keys)
        if not matches_any(expected, signatures):
            raise VerificationFailed(FAILED)
        check_tolerance(timestamp, now, self.tolerance_seconds)


def _parse(value: str) -> tuple[str, list[bytes]]:
    """The first ``t`` and the decoded ``v1`` signatures; other schemes are ignored."""
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for item in value.split(","):
        key, sep, item_value = item.strip().partition("=")
        if not sep:
            raise VerificationFailed(FAILED)
        if key == "t":
            timestamps.append(item_value)
        elif key == "v1":
            signatures.append(decode_signature(item_value, "hex"))
    if not timestamps or not signatures:
        raise VerificationFailed(FAILED)
    return timestamps[0], signatures


def build(source: SourceConfig) -> StripeVerifier:
    """The verifier for a Stripe source."""
    return StripeVerifier(
        header=source.signature_header or "Stripe-Signature",
        keys=secret_keys(source),
        tolerance_seconds=source.tolerance_seconds,
    )
