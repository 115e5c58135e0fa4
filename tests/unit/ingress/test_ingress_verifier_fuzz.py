"""Property: whatever arrives, a verifier answers with VerificationFailed or nothing."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.config import SourceConfig
from gateway.ingress.schemes import build_verifier
from gateway.ingress.verify import VerificationFailed

NOW = 1_700_000_000.0
REASONS = {
    "missing signature header",
    "signature verification failed",
    "timestamp outside tolerance",
}
SW_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode()
# Keys and passwords sent as they are: long enough that no generated header guesses them
# (a one-letter key once did, and the verifier rightly let that request through).
API_KEY = "fuzz-api-key-0123456789abcdef0123456789"

SOURCES: dict[str, SourceConfig] = {
    "hmac": SourceConfig(name="h", scheme="hmac", secret="s", signature_header="X-Sig"),
    "hmac-timestamped": SourceConfig(
        name="t",
        scheme="hmac",
        secret="s",
        signature_header="X-Sig",
        encoding="base64",
        signature_prefix="v1=",
        timestamp_header="X-Ts",
    ),
    "shopify": SourceConfig(name="a", scheme="shopify", secret="s"),
    "woocommerce": SourceConfig(name="b", scheme="woocommerce", secret="s"),
    "github": SourceConfig(name="c", scheme="github", secret="s"),
    "stripe": SourceConfig(name="d", scheme="stripe", secret="whsec_s", secrets=("whsec_t",)),
    "standard-webhooks": SourceConfig(name="e", scheme="standard-webhooks", secret=SW_SECRET),
    "basic": SourceConfig(name="f", scheme="basic", secret=f"fuzz:{API_KEY}"),
    "api-key": SourceConfig(name="g", scheme="api-key", secret=API_KEY),
    "api-key-custom": SourceConfig(
        name="i", scheme="api-key", secret=API_KEY, signature_header="X-Sig"
    ),
}

HEADER_NAMES = [
    "X-Sig", "X-Ts", "X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature", "X-Hub-Signature-256",
    "Stripe-Signature", "webhook-id", "webhook-timestamp", "webhook-signature", "Authorization",
]  # fmt: skip

FRAGMENTS = [
    "t=", "v1=", "v0=", "v1,", "v1a,", "sha256=", "v1=", "Basic ", "Bearer ", ",", " ", "=",
    "1700000000", "1699999000", "-1", "0", "ab", "AB", "zz", "==", "YQ==", "\u00e9", "\udcff",
    "\ud800", "\x00", "9" * 40,
]  # fmt: skip

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=24)
values = st.lists(st.one_of(st.sampled_from(FRAGMENTS), any_text), max_size=8).map("".join)
header_sets = st.lists(
    st.tuples(st.one_of(st.sampled_from(HEADER_NAMES), st.just("X-Other")), values), max_size=6
)


@pytest.mark.parametrize("kind", sorted(SOURCES))
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pairs=header_sets, body=st.binary(max_size=256))
def test_random_headers_and_bodies_never_raise_anything_but_verification_failed(
    kind: str, pairs: list[tuple[str, str]], body: bytes
) -> None:
    verifier = build_verifier(SOURCES[kind])
    reason = None
    try:
        verifier.verify(CIMultiDict(pairs), body, NOW)
    except VerificationFailed as exc:
        reason = exc.reason
    assert reason in REASONS
