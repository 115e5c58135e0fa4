"""The gateway's own ``Tracing``, its spans kept in memory instead of exported: what the
encoder's tests and its bench compare encodings over."""

from __future__ import annotations

from gateway.observability.tracing import Finished, Tracing

__all__ = ["Keep", "kept_tracing"]


class Keep:
    """Keeps every finished span it is given (``tracing.Spans``)."""

    def __init__(self) -> None:
        self.spans: list[Finished] = []

    def add(self, span: Finished) -> None:
        self.spans.append(span)


def kept_tracing(ratio: float = 1.0, inbound: str = "link") -> tuple[Tracing, Keep]:
    """A ``Tracing`` as the gateway makes it, whose spans go to a :class:`Keep`."""
    keep = Keep()
    return Tracing(keep, sampling_ratio=ratio, inbound=inbound), keep  # type: ignore[arg-type]
