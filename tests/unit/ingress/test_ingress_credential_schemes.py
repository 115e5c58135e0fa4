"""HTTP Basic, API-key and unauthenticated (``none``) sources."""

from __future__ import annotations

import base64

import pytest
from multidict import CIMultiDict

from gateway.config import SourceConfig
from gateway.ingress.schemes import build_verifier
from gateway.ingress.verify import VerificationFailed, Verifier

NOW = 1_700_000_000.0
BODY = b"{}"


def basic(*secrets: str) -> Verifier:
    return build_verifier(
        SourceConfig(name="b", scheme="basic", secret=secrets[0], secrets=secrets[1:])
    )


def api_key(*secrets: str, header: str | None = None, prefix: str = "") -> Verifier:
    source = SourceConfig(
        name="k",
        scheme="api-key",
        secret=secrets[0],
        secrets=secrets[1:],
        signature_header=header,
        signature_prefix=prefix,
    )
    return build_verifier(source)


def authorization(value: str) -> CIMultiDict[str]:
    return CIMultiDict({"Authorization": value})


def basic_header(credentials: str) -> CIMultiDict[str]:
    """RFC 7617: 'Basic ' + base64 of the UTF-8 'user:password'."""
    return authorization("Basic " + base64.b64encode(credentials.encode()).decode())


def refused(verifier: Verifier, headers: CIMultiDict[str]) -> str:
    with pytest.raises(VerificationFailed) as info:
        verifier.verify(headers, BODY, NOW)
    return info.value.reason


def test_basic_credentials_that_match_the_secret_are_accepted() -> None:
    basic("shop:pa55word").verify(basic_header("shop:pa55word"), BODY, NOW)


def test_basic_scheme_name_is_case_insensitive() -> None:
    encoded = base64.b64encode(b"shop:pa55word").decode()
    basic("shop:pa55word").verify(authorization(f"basic {encoded}"), BODY, NOW)


def test_basic_credentials_with_non_ascii_password_are_compared_as_utf8() -> None:
    basic("shop:p\u00e4ss").verify(basic_header("shop:p\u00e4ss"), BODY, NOW)


@pytest.mark.parametrize("credentials", ["shop:wrong", "other:pa55word", "shop:pa55wor", ""])
def test_basic_credentials_that_differ_are_refused(credentials: str) -> None:
    assert refused(basic("shop:pa55word"), basic_header(credentials)) == (
        "signature verification failed"
    )


def test_basic_without_an_authorization_header_is_refused() -> None:
    assert refused(basic("shop:pa55word"), CIMultiDict()) == "missing signature header"


@pytest.mark.parametrize(
    "value", ["Basic", "Basic !!!", "Basic c2hvcDpwYTU1d29yZA", "Bearer shop:pa55word", "\u00e9"]
)
def test_basic_with_a_malformed_header_is_refused(value: str) -> None:
    refused(basic("shop:pa55word"), authorization(value))


def test_basic_previous_password_is_still_accepted_while_it_is_listed() -> None:
    verifier = basic("shop:new", "shop:old")
    verifier.verify(basic_header("shop:old"), BODY, NOW)
    verifier.verify(basic_header("shop:new"), BODY, NOW)


def test_a_bearer_api_key_is_accepted_by_default() -> None:
    api_key("k-123456").verify(authorization("Bearer k-123456"), BODY, NOW)
    api_key("k-123456").verify(authorization("bearer k-123456"), BODY, NOW)


@pytest.mark.parametrize("value", ["Bearer k-12345", "Bearer k-1234567", "k-123456", "Bearer "])
def test_a_wrong_truncated_or_empty_api_key_is_refused(value: str) -> None:
    refused(api_key("k-123456"), authorization(value))


def test_an_api_key_in_a_custom_header_is_the_whole_value() -> None:
    verifier = api_key("k-123456", header="X-Api-Key")
    verifier.verify(CIMultiDict({"x-api-key": "k-123456"}), BODY, NOW)
    refused(verifier, CIMultiDict({"X-Api-Key": "Bearer k-123456"}))


def test_an_api_key_prefix_can_be_configured() -> None:
    verifier = api_key("k-123456", header="X-Token", prefix="Token ")
    verifier.verify(CIMultiDict({"X-Token": "Token k-123456"}), BODY, NOW)


def test_an_api_key_without_its_header_is_refused() -> None:
    assert refused(api_key("k-123456"), CIMultiDict()) == "missing signature header"


def test_an_api_key_with_undecodable_bytes_is_refused_not_raised() -> None:
    refused(api_key("k-123456"), authorization("Bearer k-\udcff\ud800"))


def test_the_previous_api_key_is_still_accepted_while_it_is_listed() -> None:
    verifier = api_key("k-new", "k-old")
    verifier.verify(authorization("Bearer k-old"), BODY, NOW)
    verifier.verify(authorization("Bearer k-new"), BODY, NOW)


def test_scheme_none_accepts_any_request() -> None:
    verifier = build_verifier(SourceConfig(name="open", scheme="none"))
    verifier.verify(CIMultiDict(), b"", NOW)
    verifier.verify(authorization("garbage"), b"\xff", 0.0)
