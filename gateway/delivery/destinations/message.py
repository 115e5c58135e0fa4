"""A broker message's metadata, from the request's headers (``build_request``'s).

The headers a consumer needs to dedupe and to verify (the Standard Webhooks set) and the
gateway's own (``x-gateway-*``) are the *core*: each becomes a message header (AMQP) or a
message attribute (SQS) of its own, under its lower-case name. The content type goes
where the protocol keeps it. Every other header (forwarded from the sender, the
subscriber's static headers, a transform's) is *other*: AMQP carries them as headers too;
SQS, which allows 10 attributes a message, carries them as one JSON object,
``x-gateway-headers``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["CORE", "MessageParts", "split_headers"]

CORE = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-gateway-source",
    "x-gateway-event-type",
    "x-gateway-delivery-id",
    "x-gateway-attempt",
    "x-gateway-payload",
)
_CORE = frozenset(CORE)


@dataclasses.dataclass(frozen=True, slots=True)
class MessageParts:
    content_type: str
    core: dict[str, str]
    """Lower-case names, in the order of :data:`CORE`."""
    other: dict[str, str]
    """Names as the request has them."""


def split_headers(headers: Mapping[str, str]) -> MessageParts:
    """The request's headers as a message's content type, core and other headers."""
    content_type = "application/octet-stream"
    found: dict[str, str] = {}
    other: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "content-type":
            content_type = value
        elif lower in _CORE:
            found[lower] = value
        else:
            other[name] = value
    core = {name: found[name] for name in CORE if name in found}
    return MessageParts(content_type, core, other)
