"""The contract every inbound verification scheme implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["VerificationFailed", "Verifier"]


class VerificationFailed(Exception):
    """The request is not from the sender it claims to be from (answered 401).

    ``reason`` is safe to show the caller: it never says which part of a signature
    was wrong, nor anything about the secret.
    """

    def __init__(self, reason: str = "signature verification failed") -> None:
        super().__init__(reason)
        self.reason = reason


class Verifier(Protocol):
    """Checks one request of one source; raises :class:`VerificationFailed`."""

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """``headers`` is case-insensitive; ``now`` is the unix time in seconds."""
        ...
