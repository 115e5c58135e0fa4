"""Outbound Standard Webhooks signatures: the spec vector, the reference library, rotation."""

from __future__ import annotations

import base64
import binascii
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.delivery.signer import SECRET_PREFIX, decode_secret, new_secret, sign, signature_header

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"type": "orders/create", "id": 820982911946154508}'


def headers(signature: str, msg_id: str, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_spec_vector_signs_to_the_documented_signature() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_spec_vector_header_with_one_secret_is_the_single_signature() -> None:
    header = signature_header([SPEC_SECRET], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert header == SPEC_SIGNATURE


def test_a_changed_body_id_or_timestamp_changes_the_signature() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY + b" ") != SPEC_SIGNATURE
    assert sign(SPEC_SECRET, SPEC_ID + "x", SPEC_TIMESTAMP, SPEC_BODY) != SPEC_SIGNATURE
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY) != SPEC_SIGNATURE


def test_new_secret_is_prefixed_base64_of_the_requested_length() -> None:
    secret = new_secret(32)
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)) == 32
    assert len(decode_secret(new_secret())) == 24


def test_two_new_secrets_differ() -> None:
    assert new_secret() != new_secret()


def test_a_new_secret_round_trips_through_the_standardwebhooks_library() -> None:
    secret = new_secret()
    timestamp = int(time.time())
    signature = signature_header([secret], "msg_roundtrip", timestamp, BODY)

    payload = Webhook(secret).verify(BODY, headers(signature, "msg_roundtrip", timestamp))

    assert payload == {"type": "orders/create", "id": 820982911946154508}


def test_the_library_rejects_our_signature_under_a_different_secret() -> None:
    timestamp = int(time.time())
    signature = signature_header([new_secret()], "msg_other", timestamp, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers(signature, "msg_other", timestamp))


def test_two_secrets_give_two_space_separated_signatures_each_verifiable_alone() -> None:
    current, previous = new_secret(), new_secret()
    timestamp = int(time.time())

    header = signature_header([current, previous], "msg_rotation", timestamp, BODY)
    first, second = header.split(" ")

    assert first == sign(current, "msg_rotation", timestamp, BODY)
    assert second == sign(previous, "msg_rotation", timestamp, BODY)
    for secret, alone in ((current, first), (previous, second)):
        Webhook(secret).verify(BODY, headers(alone, "msg_rotation", timestamp))
    for secret in (current, previous):
        Webhook(secret).verify(BODY, headers(header, "msg_rotation", timestamp))


@pytest.mark.parametrize("secret", ["", SECRET_PREFIX])
def test_an_empty_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        sign(secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(binascii.Error):
        sign("whsec_not*base64!", SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
