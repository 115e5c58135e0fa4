"""Scheme ``basic``: HTTP Basic authentication; each secret is ``user:password``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import (
    FAILED,
    Preset,
    credential_digest,
    matches_any,
    require_header,
    secret_keys,
)
from gateway.ingress.verify import VerificationFailed

__all__ = ["PRESET", "BasicAuthVerifier", "build"]

PRESET = Preset(signature_header="Authorization")


@dataclass(frozen=True, slots=True)
class BasicAuthVerifier:
    """Compares the decoded ``user:password`` with every secret, in constant time."""

    header: str
    digests: tuple[bytes, ...]

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`VerificationFailed` unless the credentials are one of the secrets."""
        scheme, _, encoded = require_header(headers, self.header).partition(" ")
        if scheme.lower() != "basic" or not encoded.isascii():
            raise VerificationFailed(FAILED)
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise VerificationFailed(FAILED) from None
        if not matches_any(self.digests, [credential_digest(given)]):
            raise VerificationFailed(FAILED)


def build(source: SourceConfig) -> BasicAuthVerifier:
    """The verifier for a source of scheme ``basic``."""
    return BasicAuthVerifier(
        header=source.signature_header or "Authorization",
        digests=tuple(credential_digest(key) for key in secret_keys(source)),
    )
