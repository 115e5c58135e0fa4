"""The event a verified webhook becomes: its ids, type and ordering key, read where the
source says they are, its headers (secrets hidden) and its body exactly as received."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import SourceConfig
from gateway.domain.ids import new_id
from gateway.http.problems import Problem
from gateway.ingress.extract import ExtractError, extract, json_loader
from gateway.ingress.headers import stored_headers
from gateway.store.records import IngestEvent

__all__ = ["event_from"]


def event_from(headers: Mapping[str, str], cfg: SourceConfig, body: bytes) -> IngestEvent:
    """The event to store; a 400 :class:`Problem` when a value cannot be read or stored,
    or the event id the source requires is missing. The source's replay window rides on
    the event to the writer."""
    event_id = new_id("evt")
    parsed = json_loader(body)

    def field(location: str | None, what: str) -> str | None:
        try:
            return extract(location, headers, body, parsed)
        except ExtractError as exc:
            raise Problem(400, f"{what}: {exc}", kind="invalid-event") from None

    external_id = field(cfg.event_id, "event id")
    if cfg.event_id and external_id is None:
        raise Problem(400, f"the event id ({cfg.event_id}) is missing", kind="missing-event-id")
    return IngestEvent(
        id=event_id,
        source=cfg.name,
        external_id=external_id or event_id,
        event_type=field(cfg.event_type, "event type"),
        ordering_key=field(cfg.ordering_key, "ordering key"),
        content_type=headers.get("Content-Type"),
        headers_json=stored_headers(headers, cfg),
        body=body,
        replay_window_seconds=cfg.replay_window_seconds or 0.0,
    )
