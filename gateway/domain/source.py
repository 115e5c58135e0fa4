"""A source's settings: one Struct for the ``[[sources]]`` table and the admin API alike.

The API's patch and read models derive from :class:`SourceConfig`; :func:`check_source`
holds the rules its fields cannot state on their own, for both. A source either takes
webhooks (``POST /webhooks/v1/{name}``) or, with ``receive``, reads a queue
(gateway/domain/receive.py); never both.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from gateway.domain.operational import GATEWAY_SOURCE
from gateway.domain.receive import Receive
from gateway.domain.validation import (
    FINITE,
    SLUG_PATTERN,
    Invalid,
    check_cidrs,
    check_rate_limit,
)
from gateway.domain.xpath import is_xpath, xpath_problem

__all__ = ["MAX_REPLAY_WINDOW", "SLUG", "Scheme", "SourceConfig", "check_source"]

_LOCATIONS = ("event_id", "event_type", "ordering_key")
SLUG = re.compile(SLUG_PATTERN)
MAX_REPLAY_WINDOW = 3650 * 86400.0

Scheme = Literal[
    "hmac",
    "shopify",
    "woocommerce",
    "github",
    "stripe",
    "standard-webhooks",
    "basic",
    "api-key",
    "none",
    "amazon-sp-api",
]
# Schemes whose sender's authenticity needs no secret of ours: none (by choice), and
# Amazon's notifications (access to the queue is the queue's policy; an SNS envelope is
# checked against Amazon's certificate).
_NO_SECRET = frozenset({"none", "amazon-sp-api"})
# What only a source taking webhooks over HTTP can use.
_HTTP_ONLY = ("allowed_cidrs", "rate_limit_per_second", "rate_limit_burst")


class SourceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One sender: how its requests are verified and where its ids come from.

    ``event_id``, ``event_type`` and ``ordering_key`` name a header; or, when they start
    with ``/``, a JSON pointer into the body as JSON (an XML body's JSON view,
    gateway/domain/xmlview.py); or, when they start with ``xpath:``, an XPath expression
    over an XML body (gateway/domain/xpath.py).
    """

    # The name and the replay window are checked by check_source rather than by a Meta
    # constraint, so that a refusal says what a slug and the window's range are.
    name: str
    scheme: Scheme = "hmac"
    secret: str | None = None
    secrets: tuple[str, ...] = ()
    signature_header: str | None = None
    algorithm: Literal["sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    signature_prefix: str = ""
    timestamp_header: str | None = None
    tolerance_seconds: int = 300
    event_id: str | None = None
    event_type: str | None = None
    ordering_key: str | None = None
    allowed_cidrs: tuple[str, ...] = ()
    max_body_bytes: Annotated[int, Meta(ge=1)] | None = None
    content_types: tuple[str, ...] = ()
    rate_limit_per_second: Annotated[float, Meta(gt=0, le=FINITE)] | None = None
    rate_limit_burst: Annotated[int, Meta(ge=1)] | None = None
    # A second event of the same type and body within this many seconds is a duplicate
    # of the first, whatever its event id: a body-only signature cannot tell a replay
    # under a new id from a new event. None: the scheme's default (7 days for hmac,
    # shopify, woocommerce and github; off for the others). 0: off.
    replay_window_seconds: float | None = None
    # Read the events from this queue instead of taking webhooks (gateway/domain/receive.py).
    receive: Receive | None = None

    @property
    def all_secrets(self) -> tuple[str, ...]:
        """The current secret first, then any others still accepted (rotation)."""
        return ((self.secret,) if self.secret else ()) + self.secrets


def check_source(source: SourceConfig) -> None:
    """The rules beyond the fields' constraints; :class:`Invalid` names the field."""
    if not SLUG.match(source.name):
        raise Invalid("name", "must be a lowercase slug (a-z, 0-9, '-', '_')")
    if source.name == GATEWAY_SOURCE:
        raise Invalid("name", f"{GATEWAY_SOURCE!r} is the gateway's own (operational events)")
    secrets = source.all_secrets
    _check_receive(source)
    if source.scheme == "amazon-sp-api" and secrets:
        raise Invalid("secret", "scheme 'amazon-sp-api' takes no secret")
    if source.scheme not in _NO_SECRET:
        if not secrets:
            raise Invalid("secret", f"scheme {source.scheme!r} needs a secret")
        if any(not s.strip() for s in secrets):
            raise Invalid("secret", "an empty secret is never accepted")
    if source.scheme == "hmac" and not source.signature_header:
        raise Invalid("signature_header", "scheme 'hmac' needs signature_header")
    for field in _LOCATIONS:
        location = getattr(source, field)
        problem = xpath_problem(location) if location and is_xpath(location) else None
        if problem:
            raise Invalid(field, problem)
    check_cidrs("allowed_cidrs", source.allowed_cidrs)
    check_rate_limit(source.rate_limit_per_second, source.rate_limit_burst)
    window = source.replay_window_seconds
    if window is not None and not (math.isfinite(window) and 0 <= window <= MAX_REPLAY_WINDOW):
        raise Invalid(
            "replay_window_seconds",
            f"must be a number of seconds from 0 (off) to {MAX_REPLAY_WINDOW:.0f} (10 years)",
        )


def _check_receive(source: SourceConfig) -> None:
    """A source reading a queue has no use for what only requests have; Amazon's
    notifications come only from a queue."""
    if source.receive is None:
        if source.scheme == "amazon-sp-api":
            raise Invalid("receive", "scheme 'amazon-sp-api' reads from a queue: set receive")
        return
    for field in _HTTP_ONLY:
        if getattr(source, field):
            raise Invalid(field, "applies to webhooks; a source with receive takes none")
