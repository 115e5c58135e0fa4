"""Which inbound headers are kept with an event: all of them, secrets hidden.

A header that carries a signature or a credential (gateway.domain.privacy's one rule, plus the
source's own ``signature_header``) is stored as ``[hidden]``: what is not stored cannot
leave through any exit, a database dump included.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import orjson

from gateway.config import SourceConfig
from gateway.domain.privacy import HIDDEN, is_secret_header

__all__ = ["stored_headers"]


def stored_headers(headers: Mapping[str, str], source: SourceConfig) -> str:
    """The request's headers as a JSON object, every secret one's value hidden."""
    own = source.signature_header
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        kept[lower] = HIDDEN if _hidden(lower, own) else _clean(value)
    return orjson.dumps(kept).decode()


@functools.lru_cache(maxsize=4096)
def _hidden(lower: str, own: str | None) -> bool:
    """:func:`is_secret_header`, remembered by name: a webhook's header names repeat."""
    return is_secret_header(lower, (own,) if own else ())


def _clean(value: str) -> str:
    """Headers may carry bytes that are not UTF-8, and jsonb refuses NUL characters."""
    if value.isascii() and "\x00" not in value:  # nearly always: nothing to change
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")
