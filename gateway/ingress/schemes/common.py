"""Helpers every scheme shares: header reading, decoding, HMAC and constant-time matching.

Everything here raises :class:`VerificationFailed` on bad input and nothing else, so a
scheme built from these pieces cannot leak another exception to the ingress.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.config import SourceConfig
from gateway.ingress.verify import VerificationFailed

__all__ = [
    "FAILED",
    "MISSING",
    "REMEMBER_BODIES",
    "STALE",
    "Algorithm",
    "Encoding",
    "Preset",
    "check_tolerance",
    "credential_digest",
    "decode_signature",
    "header_bytes",
    "hmac_digest",
    "matches_any",
    "parse_timestamp",
    "require_header",
    "secret_keys",
]

MISSING = "missing signature header"
FAILED = "signature verification failed"
STALE = "timestamp outside tolerance"

Algorithm = Literal["sha256", "sha512"]
Encoding = Literal["hex", "base64"]

_TIMESTAMP = re.compile(r"[0-9]{1,15}")

REMEMBER_BODIES = 7 * 86400.0
"""The replay window of schemes that sign the body alone: a captured request verifies
for ever, under any event id a header may carry, so its body is remembered this long."""


@dataclass(frozen=True, slots=True)
class Preset:
    """Where a sender puts its signature, event id and event type by default, and how
    long a body is remembered against replays under a new id (0: not at all).

    ``event_id`` and ``event_type`` name a header, or a JSON pointer when they start
    with ``/``; ``None`` leaves the field as the user configured it.
    """

    signature_header: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    replay_window_seconds: float = 0.0


def secret_keys(source: SourceConfig) -> tuple[bytes, ...]:
    """Every accepted secret of ``source`` as UTF-8 bytes, current one first."""
    return tuple(secret.encode("utf-8") for secret in source.all_secrets)


def require_header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name``, stripped; a missing or blank header fails."""
    value = headers.get(name)
    if value is None or not value.strip():
        raise VerificationFailed(MISSING)
    return value.strip()


def header_bytes(value: str) -> bytes:
    """The bytes a sender put in a header value (aiohttp decodes with surrogateescape)."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise VerificationFailed(FAILED) from None


def decode_signature(value: str, encoding: Encoding) -> bytes:
    """Decode a hex or (standard, padded) base64 signature; anything malformed fails."""
    if not value.isascii():
        raise VerificationFailed(FAILED)
    try:
        if encoding == "hex":
            return binascii.unhexlify(value)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(FAILED) from None


def hmac_digest(key: bytes, message: bytes, algorithm: Algorithm = "sha256") -> bytes:
    """The raw HMAC of ``message`` under ``key``."""
    return hmac.digest(key, message, algorithm)  # one call into OpenSSL


def credential_digest(value: bytes) -> bytes:
    """A fixed-length digest of a password or key, so comparing it leaks no length."""
    return hashlib.sha256(value).digest()


def matches_any(expected: Iterable[bytes], given: Iterable[bytes]) -> bool:
    """Whether any given value equals any expected value, compared in constant time.

    ``hmac.compare_digest`` compares full lengths, so an empty or truncated value never
    matches. Every pair is compared (no early exit on a match).
    """
    wanted = list(expected)
    matched = False
    for candidate in given:
        for value in wanted:
            matched |= hmac.compare_digest(value, candidate)
    return matched


def parse_timestamp(value: str) -> int:
    """A unix timestamp made of ASCII digits only; anything else fails."""
    if not _TIMESTAMP.fullmatch(value):
        raise VerificationFailed(FAILED)
    return int(value)


def check_tolerance(timestamp: int, now: float, tolerance_seconds: float) -> None:
    """Fail when ``timestamp`` is more than the tolerance in the past or the future."""
    if abs(now - timestamp) > tolerance_seconds:
        raise VerificationFailed(STALE)
