"""Scheme ``none``: every request is accepted (the config allows it only when explicit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import Preset

__all__ = ["PRESET", "AcceptAll", "build"]

PRESET = Preset()


@dataclass(frozen=True, slots=True)
class AcceptAll:
    """A verifier that never refuses; rely on the IP allowlist or mTLS instead."""

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the request."""


def build(source: SourceConfig) -> AcceptAll:
    """The verifier for a source of scheme ``none``."""
    return AcceptAll()
