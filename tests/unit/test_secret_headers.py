"""One rule hides every header that carries a signature or a credential."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict

from gateway.config import SourceConfig
from gateway.domain.privacy import HIDDEN, hide_headers, is_secret_header
from gateway.ingress.headers import stored_headers
from gateway.ingress.schemes import PRESETS
from gateway.observability.logs import REDACTED, _safe_fields

SECRET_HEADERS = [
    "X-Shopify-Hmac-Sha256",
    "X-Hub-Signature",
    "X-Hub-Signature-256",
    "X-WC-Webhook-Signature",
    "Stripe-Signature",
    "webhook-signature",
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "Set-Cookie",
    "X-Api-Key",
    "Api-Key",
    "X-Auth-Token",
    "X-Client-Secret",
]


@pytest.mark.parametrize("name", SECRET_HEADERS)
def test_every_signature_and_credential_header_is_secret_in_any_case(name: str) -> None:
    assert is_secret_header(name)
    assert is_secret_header(name.upper())
    assert is_secret_header(name.lower())


@pytest.mark.parametrize("scheme", sorted(PRESETS))
def test_the_header_each_scheme_reads_its_signature_from_is_secret(scheme: str) -> None:
    header = PRESETS[scheme].signature_header
    assert header is None or is_secret_header(header)


@pytest.mark.parametrize(
    "name",
    ["X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-GitHub-Event", "Content-Type", "webhook-id"],
)
def test_headers_that_name_no_secret_are_shown(name: str) -> None:
    assert not is_secret_header(name)


def test_a_sources_own_signature_header_is_secret_for_that_source() -> None:
    assert not is_secret_header("X-Partner-Mac")
    assert is_secret_header("x-partner-mac", also=("X-Partner-Mac",))
    assert hide_headers({"x-partner-mac": "abc", "x-topic": "t"}, ("X-Partner-Mac",)) == {
        "x-partner-mac": HIDDEN,
        "x-topic": "t",
    }


def test_stored_headers_keep_every_header_with_secret_values_hidden() -> None:
    source = SourceConfig(name="partner", secret="s", signature_header="X-Partner-Mac")
    headers = CIMultiDict(
        {
            "X-Partner-Mac": "c2lnbmF0dXJl",
            "Authorization": "Bearer abc",
            "X-Shopify-Hmac-Sha256": "c2ln",
            "X-Shopify-Topic": "orders/create",
        }
    )
    assert orjson.loads(stored_headers(headers, source)) == {
        "x-partner-mac": HIDDEN,
        "authorization": HIDDEN,
        "x-shopify-hmac-sha256": HIDDEN,
        "x-shopify-topic": "orders/create",
    }


def test_log_fields_that_name_a_secret_are_redacted_by_the_same_rule() -> None:
    fields = _safe_fields({"x-hub-signature-256": "sha256=ab", "api_key": "k", "source": "shop"})
    assert fields == {"x-hub-signature-256": REDACTED, "api_key": REDACTED, "source": "shop"}
