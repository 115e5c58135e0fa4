"""Shopify, WooCommerce, GitHub and generic HMAC sources: one keyed hash in one header."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import pytest
from multidict import CIMultiDict

from gateway.config import Scheme, SourceConfig
from gateway.ingress.schemes import build_verifier, is_woocommerce_ping
from gateway.ingress.verify import VerificationFailed, Verifier
from testkit.senders import (
    github_signature,
    hmac_signature,
    shopify_signature,
    woocommerce_signature,
)

NOW = 1_700_000_000.0
SECRET = "current-shared-secret"
OLD_SECRET = "previous-shared-secret"
BODY = b'{"id": 820982911946154508, "email": "jon@example.com"}'


@dataclass(frozen=True)
class Sender:
    scheme: Scheme
    header: str
    sign: Callable[[str, bytes], str]

    def verifier(self, *secrets: str) -> Verifier:
        source = SourceConfig(
            name="src",
            scheme=self.scheme,
            secret=secrets[0],
            secrets=secrets[1:],
        )
        return build_verifier(source)

    def headers(self, value: str) -> CIMultiDict[str]:
        return CIMultiDict({self.header: value})


SENDERS = [
    Sender("shopify", "X-Shopify-Hmac-Sha256", shopify_signature),
    Sender("woocommerce", "X-WC-Webhook-Signature", woocommerce_signature),
    Sender("github", "X-Hub-Signature-256", github_signature),
]


@pytest.fixture(params=SENDERS, ids=lambda s: s.scheme)
def sender(request: pytest.FixtureRequest) -> Sender:
    chosen: Sender = request.param
    return chosen


def refused(verifier: Verifier, headers: CIMultiDict[str], body: bytes = BODY) -> str:
    with pytest.raises(VerificationFailed) as info:
        verifier.verify(headers, body, NOW)
    return info.value.reason


def test_a_correctly_signed_request_is_accepted(sender: Sender) -> None:
    sender.verifier(SECRET).verify(sender.headers(sender.sign(SECRET, BODY)), BODY, NOW)


def test_the_header_name_is_matched_case_insensitively(sender: Sender) -> None:
    headers = CIMultiDict({sender.header.lower(): sender.sign(SECRET, BODY)})
    sender.verifier(SECRET).verify(headers, BODY, NOW)


def test_a_request_signed_with_another_secret_is_refused(sender: Sender) -> None:
    reason = refused(sender.verifier(SECRET), sender.headers(sender.sign("not-it", BODY)))
    assert reason == "signature verification failed"


def test_a_changed_body_is_refused(sender: Sender) -> None:
    headers = sender.headers(sender.sign(SECRET, BODY))
    refused(sender.verifier(SECRET), headers, BODY + b" ")


def test_a_missing_signature_header_is_refused(sender: Sender) -> None:
    assert refused(sender.verifier(SECRET), CIMultiDict()) == "missing signature header"


@pytest.mark.parametrize("value", ["", "   ", "sha256=", "=", "%%%", "sha256=zz", "é", "\udcff"])
def test_an_empty_or_malformed_signature_is_refused(sender: Sender, value: str) -> None:
    refused(sender.verifier(SECRET), sender.headers(value))


def test_a_truncated_signature_is_refused(sender: Sender) -> None:
    value = sender.sign(SECRET, BODY)
    for cut in (len(value) - 4, len(value) // 2, 8):
        refused(sender.verifier(SECRET), sender.headers(value[:cut]))


def test_the_previous_secret_is_still_accepted_while_it_is_listed(sender: Sender) -> None:
    verifier = sender.verifier(SECRET, OLD_SECRET)
    verifier.verify(sender.headers(sender.sign(OLD_SECRET, BODY)), BODY, NOW)
    verifier.verify(sender.headers(sender.sign(SECRET, BODY)), BODY, NOW)


def test_a_removed_secret_is_no_longer_accepted(sender: Sender) -> None:
    refused(sender.verifier(SECRET), sender.headers(sender.sign(OLD_SECRET, BODY)))


def test_the_reason_never_contains_the_secret(sender: Sender) -> None:
    reason = refused(sender.verifier(SECRET), sender.headers(sender.sign("x", BODY)))
    assert SECRET not in reason


def test_github_documentation_vector_is_accepted() -> None:
    # From GitHub's "Validating webhook deliveries" page.
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verifier = build_verifier(SourceConfig(name="gh", scheme="github", secret=secret))
    verifier.verify(CIMultiDict({"X-Hub-Signature-256": value}), body, NOW)


def test_github_signature_without_its_prefix_is_refused() -> None:
    verifier = SENDERS[2].verifier(SECRET)
    bare = hmac_signature(SECRET, BODY)
    refused(verifier, CIMultiDict({"X-Hub-Signature-256": bare}))


def test_a_configured_signature_header_overrides_the_senders_default() -> None:
    source = SourceConfig(name="s", scheme="shopify", secret=SECRET, signature_header="X-Sig")
    verifier = build_verifier(source)
    verifier.verify(CIMultiDict({"X-Sig": shopify_signature(SECRET, BODY)}), BODY, NOW)


def generic(**overrides: object) -> Verifier:
    base = SourceConfig(name="g", scheme="hmac", secret=SECRET, signature_header="X-Signature")
    return build_verifier(msgspec.structs.replace(base, **overrides))


def test_generic_hmac_sha512_base64_with_a_prefix_is_accepted() -> None:
    value = hmac_signature(SECRET, BODY, algorithm="sha512", encoding="base64", prefix="sha512=")
    verifier = generic(algorithm="sha512", encoding="base64", signature_prefix="sha512=")
    verifier.verify(CIMultiDict({"X-Signature": value}), BODY, NOW)


def test_generic_hmac_with_the_wrong_algorithm_is_refused() -> None:
    value = hmac_signature(SECRET, BODY)
    refused(generic(algorithm="sha512"), CIMultiDict({"X-Signature": value}))


def timestamped(secret: str, timestamp: str, body: bytes) -> CIMultiDict[str]:
    """The generic timestamped recipe: hex HMAC-SHA256 of '{timestamp}.{body}'."""
    value = hmac_signature(secret, timestamp.encode() + b"." + body)
    return CIMultiDict({"X-Signature": value, "X-Timestamp": timestamp})


def test_generic_hmac_with_a_fresh_timestamp_is_accepted() -> None:
    verifier = generic(timestamp_header="X-Timestamp", secrets=(OLD_SECRET,))
    verifier.verify(timestamped(SECRET, str(int(NOW) - 299), BODY), BODY, NOW)
    verifier.verify(timestamped(OLD_SECRET, str(int(NOW) + 299), BODY), BODY, NOW)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_generic_hmac_with_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    verifier = generic(timestamp_header="X-Timestamp")
    headers = timestamped(SECRET, str(int(NOW) + offset), BODY)
    assert refused(verifier, headers) == "timestamp outside tolerance"


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5", "-1", "+1700000000", "١٢٣", " 1 2"])
def test_generic_hmac_with_a_non_integer_timestamp_is_refused(timestamp: str) -> None:
    headers = timestamped(SECRET, timestamp, BODY)
    refused(generic(timestamp_header="X-Timestamp"), headers)


def test_generic_hmac_without_its_timestamp_header_is_refused() -> None:
    headers = timestamped(SECRET, str(int(NOW)), BODY)
    del headers["X-Timestamp"]
    assert refused(generic(timestamp_header="X-Timestamp"), headers) == "missing signature header"


def test_generic_hmac_without_a_signature_header_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="signature_header"):
        build_verifier(SourceConfig(name="g", scheme="hmac", secret=SECRET))


def test_the_woocommerce_creation_ping_is_recognised() -> None:
    headers = CIMultiDict({"User-Agent": "WooCommerce/8.0 Hookshot (WordPress/6.4)"})
    assert is_woocommerce_ping(headers, b"webhook_id=17", "application/x-www-form-urlencoded")
    assert is_woocommerce_ping(headers, b"webhook_id=17", None)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"webhook_id=17&x=1", "application/x-www-form-urlencoded"),
        (b"webhook_id=", "application/x-www-form-urlencoded"),
        (b'{"webhook_id": 17}', "application/json"),
        (b"webhook_id=17", "application/json"),
    ],
)
def test_anything_else_is_not_a_woocommerce_ping(body: bytes, content_type: str) -> None:
    assert not is_woocommerce_ping(CIMultiDict(), body, content_type)


def test_a_signed_request_is_never_taken_for_a_ping() -> None:
    headers = CIMultiDict({"X-WC-Webhook-Signature": "anything"})
    assert not is_woocommerce_ping(headers, b"webhook_id=17", "application/x-www-form-urlencoded")
