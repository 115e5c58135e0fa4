"""The event a verified webhook becomes: its ids, type and ordering key, read where the
source says they are, its headers (secrets hidden), its body exactly as received and, for
an XML body, the body's JSON view (gateway/domain/xmlview.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson

from gateway.config import SourceConfig
from gateway.domain.ids import new_id
from gateway.domain.media import is_xml
from gateway.domain.xmlview import XmlBody, XmlRefused, parse_xml
from gateway.http.problems import Problem
from gateway.ingress.extract import ExtractError, extract, json_loader
from gateway.ingress.headers import stored_headers
from gateway.store.records import IngestEvent

__all__ = ["event_from"]


def event_from(headers: Mapping[str, str], cfg: SourceConfig, body: bytes) -> IngestEvent:
    """The event to store; a 400 :class:`Problem` when an XML body is refused, a value
    cannot be read or stored, or the event id the source requires is missing. The
    source's replay window rides on the event to the writer."""
    event_id = new_id("evt")
    content_type = headers.get("Content-Type")
    xml = _xml(body) if is_xml(content_type) else None
    parsed = json_loader(body) if xml is None else _view(xml)

    def field(location: str | None, what: str) -> str | None:
        try:
            return extract(location, headers, body, parsed, xml=xml)
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
        content_type=content_type,
        headers_json=stored_headers(headers, cfg),
        body=body,
        body_view=None if xml is None else orjson.dumps(xml.view).decode(),
        replay_window_seconds=cfg.replay_window_seconds or 0.0,
    )


def _xml(body: bytes) -> XmlBody:
    try:
        return parse_xml(body)
    except XmlRefused as exc:
        raise Problem(400, str(exc), kind="xml-refused") from None


def _view(xml: XmlBody) -> Callable[[], object]:
    """What JSON pointers read of an XML body: its view."""
    return lambda: xml.view
