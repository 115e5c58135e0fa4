"""What msgspec refuses, said once: where in the document, and why.

Constraints a field can state live on the field (``Annotated[..., Meta(...)]``) and are
checked by msgspec as a document is decoded. A rule one field cannot state (one field
needs another, a text must parse) is checked by the Struct's ``__post_init__``, which
raises :class:`Invalid` naming the field; msgspec reports it at the Struct's place in the
document, with the :class:`Invalid` as its cause. :func:`describe` reads both kinds back
as one ``(path, reason)``, for the config file and the admin API alike.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterable
from typing import Annotated

import msgspec

__all__ = [
    "FINITE",
    "SLUG_PATTERN",
    "Invalid",
    "Slug",
    "check_cidrs",
    "check_rate_limit",
    "describe",
]

FINITE = sys.float_info.max
"""An upper bound that refuses only ``inf`` (and, as every bound does, ``nan``)."""

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""A name that goes into a URL path or refers to another table: a source's, a broker's."""
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, description="a slug: a-z, 0-9, _ and -")]

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")


class Invalid(ValueError):
    """A rule a Struct checks itself failed: ``field`` (relative to the Struct) and why.

    Raised in ``__post_init__``, it becomes the cause of msgspec's
    :class:`msgspec.ValidationError`, from which :func:`describe` takes field and reason.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def describe(error: msgspec.ValidationError, *, unknown_as_key: bool = False) -> tuple[str, str]:
    """``(path, reason)`` of a refused document.

    ``path`` is where the refusal is, from the document's root, the way the document is
    written: ``""`` for the root itself, ``"subscribers[0].url"``, ``"headers[...]"``
    (msgspec does not name the key of a dict). ``reason`` is msgspec's own words
    (backticks kept), or the reason an :class:`Invalid` gave, whose field then ends the
    path. With ``unknown_as_key`` a key the Struct does not have is the path itself and
    the reason is ``"unknown key"``; without, it is msgspec's words at the Struct's path.
    """
    match = _AT.match(str(error))
    assert match is not None  # the pattern matches any text
    path = (match.group("path") or "").lstrip(".")
    reason = match.group("reason")
    if isinstance(error.__cause__, Invalid):
        return _join(path, error.__cause__.field), error.__cause__.reason
    unknown = _UNKNOWN.match(reason)
    if unknown_as_key and unknown is not None:
        return _join(path, unknown.group("field")), "unknown key"
    return path, reason


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def check_cidrs(field: str, values: Iterable[str]) -> None:
    """Every value a network (``10.0.0.0/8``) or an address; else :class:`Invalid` at
    ``field[i]``."""
    for i, value in enumerate(values):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise Invalid(f"{field}[{i}]", f"{value!r} is not a CIDR") from None


def check_rate_limit(rate: float | None, burst: int | None) -> None:
    """A burst is a number of requests above a rate: it needs the rate."""
    if burst is not None and rate is None:
        raise Invalid("rate_limit_burst", "needs rate_limit_per_second")
