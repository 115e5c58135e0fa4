"""A subscriber's URL, read once the way delivery reads it.

Registration through the API, the config file and every delivery attempt parse the URL
with :func:`parse_destination`, which uses yarl, as aiohttp's client does; so the host
that is judged is the host that is connected to. A URL another parser would read
differently (``http://127.0.0.1\\@127.0.0.2/``) is refused, and so is an IPv4 address
written any way but the four decimal numbers (``127.1``, ``0177.0.0.1``, ``2130706433``,
``0x7f.0.0.1``): aiohttp refuses most of them at every attempt, and the system resolver
reads the rest as the address they spell.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import typing

from yarl import URL

__all__ = ["Destination", "InvalidDestination", "parse_destination"]

_NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


class InvalidDestination(ValueError):
    """The URL is not one deliveries could be sent to; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    """An absolute http(s) URL and the host aiohttp connects to, as the policy judges it."""

    url: URL
    scheme: str
    host: str  # a lower-case name, a dotted-quad IPv4 or an IPv6 address without brackets
    port: int


@functools.lru_cache(maxsize=10_000)
def parse_destination(url: str, *, registering: bool = False) -> Destination:
    """The destination ``url`` names, or :class:`InvalidDestination` saying what is wrong.

    ``registering`` also refuses credentials in the URL (``user:password@``): the API
    shows subscriber URLs to read-only tokens and in the console. Cached: every delivery
    attempt parses its subscriber's URL.
    """
    try:
        parsed = URL(url)
    except (ValueError, IndexError) as exc:  # yarl 1.25 raises IndexError for "@[x]y@"
        raise InvalidDestination(
            f"not a valid URL: {str(exc).removeprefix('Invalid URL: ')}"
        ) from None
    host = parsed.raw_host
    if parsed.scheme not in {"http", "https"} or not host or not parsed.is_absolute():
        raise InvalidDestination("must be an absolute http(s) URL")
    if registering and (parsed.raw_user is not None or parsed.raw_password is not None):
        raise InvalidDestination(
            "must not carry credentials (user:password@); send them in the subscriber's headers"
        )
    port = parsed.port
    assert port is not None  # http and https have default ports
    _check_host(host)
    return Destination(parsed, parsed.scheme, host, port)


def _check_host(host: str) -> None:
    """Refuse a host that is neither a name, nor an IPv4 address written a.b.c.d, nor an
    IPv6 address."""
    if ":" in host:  # between brackets: yarl lets some that are no address through
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise InvalidDestination(f"host [{host}] is not an IPv6 address") from None
        return
    labels = host.removesuffix(".").split(".")
    if _NUMBER.fullmatch(labels[-1]):  # a name never ends in a number: an IPv4 address
        _check_canonical_ipv4(host, labels)
    elif len(host.removesuffix(".")) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise InvalidDestination(f"host {host!r} is not a valid host name")


def _check_canonical_ipv4(host: str, labels: list[str]) -> None:
    """Refuse ``host`` unless written a.b.c.d in decimal, saying how to write it."""
    value = _legacy_ipv4(labels)
    if value is None:
        raise InvalidDestination(
            f"host {host} is not an IPv4 address; write four decimal numbers, 0 to 255 each"
        )
    address = ipaddress.IPv4Address(value)
    if host != str(address):
        raise InvalidDestination(f"host {host} is not a canonical IPv4 address; write {address}")


def _legacy_ipv4(labels: list[str]) -> int | None:
    """The address the system resolver (and the WHATWG URL standard) reads in ``labels``:
    one to four numbers, decimal, octal (leading 0) or hex (0x), the last filling the
    remaining bytes; ``None`` if they spell no address."""
    numbers = [_number(x) for x in labels]
    if len(numbers) > 4 or None in numbers:
        return None
    *head, last = typing.cast(list[int], numbers)
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    return sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last


def _number(text: str) -> int | None:
    base = 16 if text[:2].lower() == "0x" else 8 if len(text) > 1 and text[0] == "0" else 10
    digits = text[2:] if base == 16 else text
    try:
        return int(digits or "0", base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None
