"""The ``[delivery]`` section: the delivery engine's keys and their defaults.

A subscriber's own settings (``gateway.domain.subscriber``) win over these.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from msgspec import Meta

from gateway.config.types import AtLeastOne, NonNegative, Positive, Section
from gateway.domain.subscriber import HeaderName
from gateway.domain.validation import Invalid, check_cidrs

__all__ = ["DeliveryConfig"]


class DeliveryConfig(Section, frozen=True):
    enabled: bool = True
    concurrency: AtLeastOne = 256
    claim_batch: AtLeastOne = 64
    # In-flight cap, across replicas, for subscribers without max_in_flight: one slow
    # subscriber then holds at most this many slots (half of one process's) and the
    # others keep flowing. A slot comes back when its attempt is settled, so this also
    # bounds one fast subscriber's rate, to about cap / the claim-send-settle cycle.
    # On a busy database that cycle is 100-130 ms, most of it waiting for the
    # settlement: 128 / 130 ms is about 1,000 deliveries/s. Unset: no cap.
    subscriber_max_in_flight: AtLeastOne | None = 128
    poll_interval_seconds: float = 1.0
    lease_seconds: float = 60.0
    timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    max_attempts: AtLeastOne = 10
    backoff_base_seconds: Annotated[float, Meta(gt=0)] = 5.0
    backoff_cap_seconds: float = 3600.0
    response_snippet_bytes: int = 2048
    grace_seconds: float = 25.0
    allowed_private_cidrs: tuple[str, ...] = ()
    user_agent: str = "webhook-gateway"
    # Retries (a subscriber's own settings win): exponential backoff with full jitter, or an
    # explicit schedule of delays in seconds; give up after max_attempts or max_age_seconds.
    # The delays are checked by __post_init__, so that a refusal names the schedule.
    retry_schedule: Annotated[tuple[float, ...], Meta(max_length=100)] = ()
    max_age_seconds: Positive = 3 * 86400.0
    retry_after_max_seconds: Positive = 3600.0  # Retry-After on 429/503 is clamped to this
    # Circuit breaker per subscriber: open after consecutive failures (0: never), or a
    # failure ratio over a window; probe with one delivery after the cool-down.
    circuit_breaker: bool = True
    circuit_consecutive_failures: Annotated[int, Meta(ge=0)] = 10
    circuit_failure_ratio: Annotated[float, Meta(gt=0, le=1)] = 0.7
    circuit_min_requests: AtLeastOne = 20
    circuit_window_seconds: Positive = 300.0
    circuit_cooldown_seconds: Positive = 60.0
    disable_after_seconds: NonNegative = 5 * 86400.0  # failing continuously this long; 0: never
    # Inbound headers passed on (per subscriber too).
    forward_headers: tuple[HeaderName, ...] = ()
    # Thin payloads: a signed, expiring link on the ingress listener instead of the body.
    payload_base_url: str | None = None  # how subscribers reach the ingress listener
    # Unset: a key kept in the data directory.
    payload_link_secret: Annotated[str, Meta(min_length=32)] | None = None
    payload_link_ttl_seconds: Positive = 3600.0
    job_batch_size: AtLeastOne = 500

    def __post_init__(self) -> None:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise Invalid(
                "backoff_cap_seconds", "needs 0 < backoff_base_seconds <= backoff_cap_seconds"
            )
        if self.lease_seconds <= self.timeout_seconds:
            raise Invalid("lease_seconds", "must be longer than delivery.timeout_seconds")
        check_cidrs("allowed_private_cidrs", self.allowed_private_cidrs)
        if any(not (math.isfinite(d) and d >= 0) for d in self.retry_schedule):
            raise Invalid("retry_schedule", "delays must be finite numbers of seconds, 0 or more")
        if self.payload_base_url is not None:
            parts = urlsplit(self.payload_base_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
                raise Invalid("payload_base_url", "must be an absolute http(s) URL without a query")
