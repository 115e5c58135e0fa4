"""Signed, expiring payload links: genuine, forged, expired."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.delivery.links import PayloadLinks

LINKS = PayloadLinks(b"a-key-of-sufficient-length-here!", "http://127.0.0.1:8080/", 60)


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path.rsplit("/", 1)[-1], query["expires"][0], query["sig"][0]


def test_a_fresh_link_is_valid_until_it_expires() -> None:
    event_id, expires, sig = _parts(LINKS.url("evt_1", 1000.0))
    assert LINKS.check(event_id, expires, sig, 1000.0) == "valid"
    assert LINKS.check(event_id, expires, sig, 1060.0) == "valid"
    assert LINKS.check(event_id, expires, sig, 1060.5) == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e, x, s: ("evt_2", x, s),
        lambda e, x, s: (e, str(int(x) + 3600), s),
        lambda e, x, s: (e, x, s[:-2] + ("AA" if s[-2:] != "AA" else "BB")),
        lambda e, x, s: (e, x, ""),
        lambda e, x, s: (e, "soon", s),
    ],
    ids=["other event", "later expiry", "altered signature", "no signature", "bad expiry"],
)
def test_an_altered_link_is_forged(tamper) -> None:  # type: ignore[no-untyped-def]
    parts = tamper(*_parts(LINKS.url("evt_1", 1000.0)))
    assert LINKS.check(*parts, 1000.0) == "forged"


def test_a_link_from_another_key_is_forged() -> None:
    other = PayloadLinks(b"another-key-of-sufficient-length", "http://x", 60)
    assert LINKS.check(*_parts(other.url("evt_1", 1000.0)), 1000.0) == "forged"


def test_the_base_url_keeps_no_double_slash() -> None:
    assert LINKS.url("evt_1", 0).startswith("http://127.0.0.1:8080/payloads/v1/evt_1?")
