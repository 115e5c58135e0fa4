"""Scheme ``api-key``: a static key in a header, by default ``Authorization: Bearer <key>``.

With another header (``signature_header``) the whole value is the key, unless
``signature_prefix`` names a prefix to strip (matched case-insensitively).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import (
    FAILED,
    Preset,
    credential_digest,
    header_bytes,
    matches_any,
    require_header,
    secret_keys,
)
from gateway.ingress.verify import VerificationFailed

__all__ = ["PRESET", "ApiKeyVerifier", "build"]

DEFAULT_HEADER = "Authorization"

PRESET = Preset(signature_header=DEFAULT_HEADER)


@dataclass(frozen=True, slots=True)
class ApiKeyVerifier:
    """Compares the key in ``header`` (after ``prefix``) with every secret, in constant time."""

    header: str
    prefix: str
    digests: tuple[bytes, ...]

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`VerificationFailed` unless the key is one of the secrets."""
        value = require_header(headers, self.header)
        if value[: len(self.prefix)].lower() != self.prefix.lower():
            raise VerificationFailed(FAILED)
        given = header_bytes(value[len(self.prefix) :].strip())
        if not matches_any(self.digests, [credential_digest(given)]):
            raise VerificationFailed(FAILED)


def build(source: SourceConfig) -> ApiKeyVerifier:
    """The verifier for a source of scheme ``api-key``."""
    header = source.signature_header or DEFAULT_HEADER
    prefix = source.signature_prefix
    if not prefix and header.lower() == DEFAULT_HEADER.lower():
        prefix = "Bearer "
    return ApiKeyVerifier(
        header=header,
        prefix=prefix,
        digests=tuple(credential_digest(key) for key in secret_keys(source)),
    )
