"""Standard Webhooks sources: ``webhook-id``/``-timestamp``/``-signature``, ``whsec_`` keys."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict
from standardwebhooks.webhooks import Webhook

from gateway.config import SourceConfig
from gateway.ingress.schemes import build_verifier
from gateway.ingress.verify import VerificationFailed, Verifier
from testkit.senders import standard_webhooks_signature as sign

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OLD_SECRET = "whsec_" + base64.b64encode(b"previous-key-0123456789ab").decode()


def headers(
    signature: str, msg_id: str = SPEC_ID, timestamp: int | str = SPEC_TS
) -> CIMultiDict[str]:
    return CIMultiDict(
        {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
    )


def verifier(*secrets: str) -> Verifier:
    secrets = secrets or (SPEC_SECRET,)
    source = SourceConfig(
        name="sw", scheme="standard-webhooks", secret=secrets[0], secrets=secrets[1:]
    )
    return build_verifier(source)


def refused(h: CIMultiDict[str], body: bytes = SPEC_BODY, v: Verifier | None = None) -> str:
    with pytest.raises(VerificationFailed) as info:
        (v or verifier()).verify(h, body, SPEC_TS)
    return info.value.reason


def test_the_specification_vector_is_accepted() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    verifier().verify(headers(SPEC_SIGNATURE), SPEC_BODY, SPEC_TS)


def test_a_signature_made_by_the_reference_library_is_accepted() -> None:
    now = int(time.time())
    body = '{"type": "invoice.paid", "n": 1}'
    signature = Webhook(SPEC_SECRET).sign(SPEC_ID, datetime.fromtimestamp(now, tz=UTC), body)
    verifier().verify(headers(signature, timestamp=now), body.encode(), now)


def test_the_reference_library_accepts_what_the_spec_recipe_produces() -> None:
    now = int(time.time())
    signature = sign(SPEC_SECRET, "msg_1", now, SPEC_BODY)
    Webhook(SPEC_SECRET).verify(SPEC_BODY, dict(headers(signature, "msg_1", now)))
    verifier().verify(headers(signature, "msg_1", now), SPEC_BODY, now)


def test_a_secret_without_the_whsec_prefix_is_accepted() -> None:
    verifier(SPEC_SECRET.removeprefix("whsec_")).verify(headers(SPEC_SIGNATURE), SPEC_BODY, SPEC_TS)


def test_a_message_signed_with_another_secret_is_refused() -> None:
    assert refused(headers(sign(OLD_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY))) == (
        "signature verification failed"
    )


def test_another_message_id_is_refused() -> None:
    refused(headers(SPEC_SIGNATURE, msg_id="msg_other"))


def test_a_changed_body_is_refused() -> None:
    refused(headers(SPEC_SIGNATURE), b'{"test": 2432232315}')


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    h = headers(SPEC_SIGNATURE)
    del h[missing]
    assert refused(h) == "missing signature header"


def test_an_empty_v1_signature_is_refused() -> None:
    # CVE-2024-21491: a comparison up to the shorter length let "v1," through.
    refused(headers("v1,"))
    refused(headers(f"v1, {SPEC_SIGNATURE[:3]}"))


def test_a_truncated_signature_is_refused() -> None:
    raw = base64.b64decode(SPEC_SIGNATURE[3:])
    for cut in (31, 16, 1):
        refused(headers("v1," + base64.b64encode(raw[:cut]).decode()))


@pytest.mark.parametrize(
    "value",
    ["v1", "v1,not base64!", "v1,%%%%", "v1,YQ", "g0hM9SsE", "v1,\u00e9", "v2,abc v1,", "v1;abc"],
)
def test_a_malformed_signature_is_refused_not_raised(value: str) -> None:
    refused(headers(value))


@pytest.mark.parametrize("timestamp", ["", "abc", "1614265330.0", "-1", "1e9", "\u0661\u0662"])
def test_a_non_integer_timestamp_is_refused(timestamp: str) -> None:
    refused(headers(sign(SPEC_SECRET, SPEC_ID, timestamp, SPEC_BODY), timestamp=timestamp))


def test_any_one_of_several_space_separated_signatures_may_match() -> None:
    other = sign(OLD_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY)
    value = f"v1a,c29tZXRoaW5n {other}  {SPEC_SIGNATURE}"
    verifier().verify(headers(value), SPEC_BODY, SPEC_TS)


def test_an_asymmetric_v1a_signature_alone_is_refused() -> None:
    refused(headers("v1a," + SPEC_SIGNATURE[3:]))


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    ts = SPEC_TS + offset
    with pytest.raises(VerificationFailed, match="timestamp outside tolerance"):
        verifier().verify(
            headers(sign(SPEC_SECRET, SPEC_ID, ts, SPEC_BODY), timestamp=ts), SPEC_BODY, SPEC_TS
        )


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_at_the_edge_of_tolerance_is_accepted(offset: int) -> None:
    ts = SPEC_TS + offset
    verifier().verify(
        headers(sign(SPEC_SECRET, SPEC_ID, ts, SPEC_BODY), timestamp=ts), SPEC_BODY, SPEC_TS
    )


def test_the_previous_secret_is_still_accepted_while_it_is_listed() -> None:
    rotated = verifier(SPEC_SECRET, OLD_SECRET)
    rotated.verify(headers(sign(OLD_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY)), SPEC_BODY, SPEC_TS)
    rotated.verify(headers(SPEC_SIGNATURE), SPEC_BODY, SPEC_TS)


def test_a_non_ascii_message_id_is_signed_as_utf8() -> None:
    msg_id = "msg_caf\u00e9"
    verifier().verify(
        headers(sign(SPEC_SECRET, msg_id, SPEC_TS, SPEC_BODY), msg_id=msg_id), SPEC_BODY, SPEC_TS
    )


def test_an_id_with_undecodable_bytes_is_refused_not_raised() -> None:
    refused(headers(SPEC_SIGNATURE, msg_id="msg_\ud800"))


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", "whsec_===="])
def test_a_secret_that_is_not_base64_is_refused_when_building(secret: str) -> None:
    with pytest.raises(ValueError, match="standard-webhooks secret"):
        verifier(secret)


def test_the_build_error_never_contains_the_secret() -> None:
    with pytest.raises(ValueError, match="standard-webhooks secret") as info:
        verifier("whsec_s3cr3t-value!")
    assert "s3cr3t" not in str(info.value)
