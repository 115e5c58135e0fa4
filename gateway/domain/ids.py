"""Prefixed, time-sortable identifiers: ``evt_`` + 12 hex digits of ms + 16 random hex."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A new id such as ``evt_0193a1b2c3d4e5f60718293a4b5c``; sorts by creation time."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"
