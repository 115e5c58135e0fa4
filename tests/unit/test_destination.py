"""Subscriber URLs are read once, as delivery reads them; an address is written one way."""

from __future__ import annotations

import pytest
from yarl import URL

from gateway.domain.destination import InvalidDestination, parse_destination

# How the system resolver would read each (inet_aton), and so how they used to slip by.
NON_CANONICAL = {
    "127.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "0x7f.0.0.1": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",
    "127.000.000.001": "127.0.0.1",
    "10.1": "10.0.0.1",
    "169.254.43518": "169.254.169.254",
    "0": "0.0.0.0",  # noqa: S104
}


@pytest.mark.parametrize(("host", "canonical"), NON_CANONICAL.items())
def test_an_ipv4_address_not_written_a_b_c_d_is_refused_with_its_canonical_spelling(
    host: str, canonical: str
) -> None:
    with pytest.raises(InvalidDestination) as refused:
        parse_destination(f"http://{host}:8000/hook")
    assert str(refused.value) == (f"host {host} is not a canonical IPv4 address; write {canonical}")


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3.4.5", "1.1.1.256", "09.1.1.1", "hooks.123"])
def test_a_host_ending_in_a_number_that_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(InvalidDestination, match="is not an IPv4 address"):
        parse_destination(f"http://{host}/")


def test_a_backslash_in_the_authority_is_refused_as_delivery_cannot_send_to_it() -> None:
    url = "http://127.0.0.1\\@127.0.0.2/"
    with pytest.raises(ValueError, match="backslash"):
        URL(url)  # what aiohttp's client does with it
    with pytest.raises(InvalidDestination, match="not a valid URL: backslash"):
        parse_destination(url)


@pytest.mark.parametrize(
    "url",
    ["http://user:secret@hooks.example.com/", "http://token@hooks.example.com/"],
)
def test_credentials_in_a_url_are_refused_at_registration_only(url: str) -> None:
    with pytest.raises(InvalidDestination, match="credentials"):
        parse_destination(url, registering=True)
    assert parse_destination(url).host == "hooks.example.com"


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/", "/hook", "http:///hook", "mailto:ops@example.com"]
)
def test_only_absolute_http_urls_are_destinations(url: str) -> None:
    with pytest.raises(InvalidDestination, match="must be an absolute http"):
        parse_destination(url)


@pytest.mark.parametrize("host", ["a b", "hooks..example.com", "%68ooks.example.com"])
def test_a_host_that_is_no_name_is_refused(host: str) -> None:
    with pytest.raises(InvalidDestination, match="is not a valid host name"):
        parse_destination(f"http://{host}/")


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://Hooks.Example.COM/x", "hooks.example.com", 443),
        ("http://wms_1.internal:8080/", "wms_1.internal", 8080),
        ("http://hooks.example.com./", "hooks.example.com.", 80),
        ("http://bücher.example/", "xn--bcher-kva.example", 80),
        ("http://123.example.com/", "123.example.com", 80),
        ("http://93.184.216.34/", "93.184.216.34", 80),
        ("http://[::FFFF:127.0.0.1]:81/", "::ffff:7f00:1", 81),
        ("http://[::127.0.0.1]/", "::7f00:1", 80),
    ],
)
def test_the_host_is_the_one_aiohttp_connects_to(url: str, host: str, port: int) -> None:
    parsed = parse_destination(url)
    assert (parsed.host, parsed.port) == (host, port)
    assert parsed.host == URL(url).raw_host  # aiohttp's connector resolves raw_host
    assert parsed.url == URL(url)


@pytest.mark.parametrize("url", ["http://[8:e]/", "http://@h@[9a6d%615]f4_-@#997/0::"])
def test_an_authority_yarl_half_reads_is_refused_not_raised(url: str) -> None:
    with pytest.raises(InvalidDestination):
        parse_destination(url)
