"""Stripe sources: ``Stripe-Signature: t=…,v1=…`` over ``"{t}.{body}"``."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from gateway.config import SourceConfig
from gateway.ingress.schemes import build_verifier
from gateway.ingress.verify import VerificationFailed, Verifier
from testkit.senders import stripe_signature

NOW = 1_700_000_000
SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_0123456789abcdef"
BODY = b'{\n  "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",\n  "type": "payment_intent.succeeded"\n}'


def header(value: str) -> CIMultiDict[str]:
    return CIMultiDict({"Stripe-Signature": value})


def signed(secret: str = SECRET, timestamp: int = NOW, body: bytes = BODY) -> CIMultiDict[str]:
    return header(f"t={timestamp},v1={stripe_signature(secret, timestamp, body)}")


def verifier(*secrets: str, tolerance: int = 300) -> Verifier:
    secrets = secrets or (SECRET,)
    source = SourceConfig(
        name="stripe",
        scheme="stripe",
        secret=secrets[0],
        secrets=secrets[1:],
        tolerance_seconds=tolerance,
    )
    return build_verifier(source)


def refused(headers: CIMultiDict[str], body: bytes = BODY, v: Verifier | None = None) -> str:
    with pytest.raises(VerificationFailed) as info:
        (v or verifier()).verify(headers, body, NOW)
    return info.value.reason


def test_a_correctly_signed_event_is_accepted() -> None:
    verifier().verify(signed(), BODY, NOW)


def test_the_secret_is_used_as_literal_bytes_not_decoded() -> None:
    # A key derived by decoding the part after 'whsec_' must not verify.
    decoded_key = SECRET.removeprefix("whsec_").encode()
    value = stripe_signature(decoded_key, NOW, BODY)
    refused(header(f"t={NOW},v1={value}"))


def test_an_event_signed_with_another_secret_is_refused() -> None:
    assert refused(signed(secret="whsec_other")) == "signature verification failed"


def test_a_changed_body_is_refused() -> None:
    refused(signed(), BODY.replace(b"succeeded", b"failed"))


def test_a_signature_for_another_timestamp_is_refused() -> None:
    value = stripe_signature(SECRET, NOW - 1, BODY)
    refused(header(f"t={NOW},v1={value}"))


def test_a_missing_signature_header_is_refused() -> None:
    assert refused(CIMultiDict()) == "missing signature header"


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        f"t={NOW}",
        "v1=" + "0" * 64,
        f"t={NOW},v1=",
        f"t={NOW},v1=xyz",
        f"t={NOW},v1",
        f"t=,v1={'0' * 64}",
        f"t=abc,v1={'0' * 64}",
        f"t={NOW}.5,v1={'0' * 64}",
        f"t=\u0661\u0667\u0660\u0660,v1={'0' * 64}",
        f"t={NOW},v1=\u00e9\u00e9",
        ",,,",
    ],
)
def test_a_malformed_signature_header_is_refused(value: str) -> None:
    refused(header(value))


def test_an_empty_v1_signature_is_refused() -> None:
    refused(header(f"t={NOW},v1="))


def test_a_truncated_signature_is_refused() -> None:
    full = stripe_signature(SECRET, NOW, BODY)
    for cut in (62, 32, 2):
        refused(header(f"t={NOW},v1={full[:cut]}"))


def test_an_uppercase_hex_signature_is_accepted() -> None:
    verifier().verify(
        header(f"t={NOW},v1={stripe_signature(SECRET, NOW, BODY).upper()}"), BODY, NOW
    )


def test_any_one_of_several_v1_signatures_may_match() -> None:
    good = stripe_signature(SECRET, NOW, BODY)
    value = f"t={NOW},v1={'ab' * 32},v1={good},v0={'cd' * 32}"
    verifier().verify(header(value), BODY, NOW)


def test_a_v0_signature_alone_is_refused() -> None:
    refused(header(f"t={NOW},v0={stripe_signature(SECRET, NOW, BODY)}"))


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_tolerance_is_accepted(offset: int) -> None:
    verifier().verify(signed(timestamp=NOW + offset), BODY, NOW)


@pytest.mark.parametrize("offset", [-301, -3600, 301, 3600])
def test_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    assert refused(signed(timestamp=NOW + offset)) == "timestamp outside tolerance"


def test_the_configured_tolerance_is_used() -> None:
    headers = signed(timestamp=NOW - 100)
    assert refused(headers, v=verifier(tolerance=60)) == "timestamp outside tolerance"


def test_a_stale_timestamp_with_a_wrong_signature_says_only_that_verification_failed() -> None:
    assert refused(signed(secret="whsec_other", timestamp=NOW - 9999)) == (
        "signature verification failed"
    )


def test_the_previous_secret_is_still_accepted_while_it_is_listed() -> None:
    rotated = verifier(SECRET, OLD_SECRET)
    rotated.verify(signed(secret=OLD_SECRET), BODY, NOW)
    rotated.verify(signed(secret=SECRET), BODY, NOW)
    refused(signed(secret=OLD_SECRET))


def test_a_header_signed_during_a_roll_with_both_secrets_is_accepted() -> None:
    old, new = stripe_signature(OLD_SECRET, NOW, BODY), stripe_signature(SECRET, NOW, BODY)
    verifier(SECRET).verify(header(f"t={NOW},v1={old},v1={new}"), BODY, NOW)
