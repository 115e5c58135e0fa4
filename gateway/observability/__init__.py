"""What an operator watches: metrics (``metrics``) and structured logs (``logs``)."""

from gateway.observability.logs import REDACTED, configure_logging, log_event
from gateway.observability.metrics import (
    ATTEMPT_OUTCOMES,
    RETENTION_KINDS,
    Children,
    Metrics,
    attempt_outcome,
)

__all__ = [
    "ATTEMPT_OUTCOMES",
    "REDACTED",
    "RETENTION_KINDS",
    "Children",
    "Metrics",
    "attempt_outcome",
    "configure_logging",
    "log_event",
]
