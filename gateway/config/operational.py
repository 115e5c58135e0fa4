"""The ``[operational_events]`` section: the gateway's events about itself
(gateway/domain/operational.py) and the thresholds of the kinds that count."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.config.types import AtLeastOne, Positive, Section
from gateway.domain.validation import Invalid

__all__ = ["OperationalEventsConfig"]


class OperationalEventsConfig(Section, frozen=True):
    # On by default: a change of state is rare, so storing its event costs little, and
    # the events API then holds the history before anyone subscribes to it.
    enabled: bool = True
    # How operators reach the admin listener (e.g. https://gateway.internal:8081): the
    # events then link to the console. Unset: no links.
    console_url: str | None = None
    # Events waiting to be stored; past this they are dropped (and counted), never waited for.
    queue_size: AtLeastOne = 1000
    # A source's signature failures start an episode (one event) at this many within
    # the window, counted over every replica; it ends (one event) when a window has fewer.
    signature_failures_threshold: AtLeastOne = 20
    signature_failures_window_seconds: Positive = 300.0
    # A subscriber's deliveries waiting (pending, or queued behind an ordering key) start
    # an episode at this many, read with the backlog gauges (metrics.backlog_interval_seconds);
    # it ends below half as many.
    backlog_threshold: AtLeastOne = 10_000

    def __post_init__(self) -> None:
        if self.console_url is not None:
            parts = urlsplit(self.console_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
                raise Invalid("console_url", "must be an absolute http(s) URL without a query")
