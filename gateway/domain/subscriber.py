"""A subscriber's settings: one Struct, with its constraints beside its fields.

Everything else derives from :class:`SubscriberSettings`: the ``[[subscribers]]`` table
of the config file (with its ``secret``), the admin API's create, patch and read models,
and the store's record and columns. A setting is added here, in a migration and in the
store's SQL; a test holds the SQL's column lists to this Struct's fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from gateway.domain.broker_destination import BrokerDestination
from gateway.domain.destination import Destination, InvalidDestination, parse_destination
from gateway.domain.filters import parse_filter
from gateway.domain.transform import Transform
from gateway.domain.validation import SLUG_PATTERN, Invalid

__all__ = [
    "DIRECT",
    "ContentFilter",
    "EgressName",
    "Glob",
    "HeaderName",
    "PayloadMode",
    "SourceName",
    "SubscriberSettings",
    "SubscriberState",
    "url_destination",
]

Name = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]
Url = Annotated[str, Meta(min_length=8, max_length=2048)]
Description = Annotated[str, Meta(max_length=1000)]
SourceName = Annotated[str, Meta(min_length=1, max_length=63)]
Glob = Annotated[str, Meta(min_length=1, max_length=200)]
HeaderName = Annotated[
    str, Meta(min_length=1, max_length=100, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
HeaderMap = Annotated[dict[str, Annotated[str, Meta(max_length=4096)]], Meta(max_length=32)]
Timeout = Annotated[float, Meta(gt=0, le=300)]
Attempts = Annotated[int, Meta(ge=1, le=100)]
Backoff = Annotated[float, Meta(gt=0, le=7 * 86400)]
InFlight = Annotated[int, Meta(ge=1, le=10_000)]
Rate = Annotated[float, Meta(gt=0, le=100_000)]
Burst = Annotated[int, Meta(ge=1, le=100_000)]
Delay = Annotated[float, Meta(ge=0, le=7 * 86400)]
MaxAge = Annotated[float, Meta(gt=0, le=30 * 86400)]
Bytes = Annotated[int, Meta(ge=0, le=1 << 31)]
ContentFilter = Annotated[
    dict[str, Any],
    Meta(
        description="which events to take by their body, headers and type, in Convoy's and "
        "Outpost's syntax (README: Filters): "
        '{"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}}'
    ),
]
MAX_FILTER_BYTES = 16 * 1024
EgressName = Annotated[
    str, Meta(pattern=SLUG_PATTERN, description="an [[egress.proxies]] or [[egress.tls]] name")
]
DIRECT = "direct"
"""A subscriber's ``proxy`` that sends it straight out, whatever ``[egress] proxy`` says."""
PayloadMode = Literal["full", "thin"]
SubscriberState = Literal["active", "paused", "disabled"]


class SubscriberSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an operator sets on a subscriber; unset (``None``) takes ``[delivery]``'s value.

    A subscriber delivers to ``url`` over HTTP, or into a broker: ``destination``
    (``gateway.domain.broker_destination``); exactly one of the two is set.
    ``sources`` lists the sources it takes (none: every source but the gateway's own,
    ``gateway.domain.operational``); ``event_types`` are globs (``orders/*``); ``headers``
    are sent with every delivery; ``forward_headers`` names inbound headers passed on;
    ``payload_mode = "thin"`` sends a signed link instead of a body (above
    ``thin_above_bytes``, when set); ``filter`` takes only the events whose content passes
    it (``gateway.domain.filters``); ``transform`` reshapes each request before it is
    signed (``gateway.domain.transform``).
    ``proxy`` and ``tls`` name an ``[[egress.proxies]]`` and an ``[[egress.tls]]`` table of
    the config file (``gateway.config.egress``); ``proxy = "direct"`` goes without one.
    """

    name: Name
    url: Url | None = None
    destination: BrokerDestination | None = None
    description: Description | None = None
    sources: Annotated[list[SourceName], Meta(max_length=100)] = []
    event_types: Annotated[list[Glob], Meta(max_length=100)] = []
    headers: HeaderMap = {}
    timeout_seconds: Timeout | None = None
    max_attempts: Attempts | None = None
    backoff_base_seconds: Backoff | None = None
    backoff_cap_seconds: Backoff | None = None
    max_in_flight: InFlight | None = None
    rate_limit_per_second: Rate | None = None
    ordered: bool = False
    https_only: bool = False
    forward_headers: Annotated[list[HeaderName], Meta(max_length=50)] | None = None
    retry_schedule: Annotated[list[Delay], Meta(min_length=1, max_length=100)] | None = None
    max_age_seconds: MaxAge | None = None
    rate_limit_burst: Burst | None = None
    payload_mode: PayloadMode = "full"
    thin_above_bytes: Bytes | None = None
    filter: ContentFilter | None = None
    transform: Transform | None = None
    proxy: EgressName | None = None
    tls: EgressName | None = None
    # Deliveries of traced events carry a W3C ``traceparent`` naming their attempt's span.
    send_traceparent: bool = True

    def __post_init__(self) -> None:
        self._check_destination()
        if self.filter is not None:
            if len(msgspec.json.encode(self.filter)) > MAX_FILTER_BYTES:
                raise Invalid("filter", f"is longer than {MAX_FILTER_BYTES} bytes as JSON")
            parse_filter(self.filter)
        if self.transform is not None and (
            self.payload_mode == "thin" or self.thin_above_bytes is not None
        ):
            raise Invalid("transform", "a transformed body is sent whole: not with thin payloads")

    def _check_destination(self) -> None:
        if self.url is None and self.destination is None:
            raise Invalid("url", "is required: an http(s) URL, or a destination (a broker)")
        if self.url is not None and self.destination is not None:
            raise Invalid("destination", "a subscriber has a url or a destination, not both")
        if self.destination is not None and self.https_only:
            raise Invalid(
                "https_only",
                "is for url subscribers; a broker's connection (amqps://, https://) is set"
                " in its [[brokers]] table",
            )
        for key in ("proxy", "tls"):
            if self.destination is not None and getattr(self, key) is not None:
                raise Invalid(
                    key, "is for url subscribers; a broker connects as its [[brokers]] table says"
                )


def url_destination(settings: SubscriberSettings) -> Destination | None:
    """Where ``settings`` deliver to over HTTP, read as delivery reads it; https when
    ``https_only``; ``None`` for a subscriber that delivers into a broker.

    Raises :class:`InvalidDestination` saying what is wrong. Whether the address may be
    reached (private ranges, what a name resolves to) is the delivery policy's to judge.
    """
    if settings.url is None:
        return None
    target = parse_destination(settings.url, registering=True)
    if settings.https_only and target.scheme != "https":
        raise InvalidDestination("https_only needs an https:// URL")
    return target
