"""Which inbound headers are kept with an event (never credentials)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gateway.config import SourceConfig

__all__ = ["stored_headers"]

_NEVER_KEPT = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


def stored_headers(headers: Mapping[str, str], source: SourceConfig) -> str:
    """The request's headers as a JSON object, minus anything that carries a secret."""
    secret_header = (source.signature_header or "").lower() if source.scheme == "api-key" else ""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in _NEVER_KEPT or lower == secret_header:
            continue
        kept[lower] = _clean(value)
    return orjson.dumps(kept).decode()


def _clean(value: str) -> str:
    """Headers may carry bytes that are not UTF-8, and jsonb refuses NUL characters."""
    if value.isascii() and "\x00" not in value:  # nearly always: nothing to change
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")
