"""The replay digest: one value per (event type, body), none without a window."""

from __future__ import annotations

import msgspec

from gateway.store.events import replay_digest
from tests.unit.ingress.queued_events import queued_event

REMEMBERED = msgspec.structs.replace(queued_event(1), replay_window_seconds=60.0)


def digest(event_type: str | None, body: bytes) -> bytes | None:
    return replay_digest(msgspec.structs.replace(REMEMBERED, event_type=event_type, body=body))


def test_the_same_type_and_body_give_the_same_digest_whatever_the_id() -> None:
    other = msgspec.structs.replace(REMEMBERED, id="evt_2", external_id="ext-2")
    assert replay_digest(REMEMBERED) == replay_digest(other) is not None


def test_no_type_and_body_pair_reads_as_another() -> None:
    pairs = [("a", b"bc"), ("ab", b"c"), ("", b"abc"), (None, b"abc"), (None, b""), ("", b"")]
    digests = [digest(t, b) for t, b in pairs]
    assert len(set(digests)) == len(pairs)


def test_an_event_type_that_is_no_valid_unicode_still_has_a_digest() -> None:
    assert digest("\udcff\ud800", b"{}") != digest("", b"{}")


def test_without_a_window_there_is_no_digest() -> None:
    assert replay_digest(msgspec.structs.replace(REMEMBERED, replay_window_seconds=0.0)) is None
