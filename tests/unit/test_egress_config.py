"""The ``[egress]`` section: proxies and TLS profiles by name, checked as the file is read,
and a profile's files checked at start, each refusal naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load_config
from gateway.delivery.egress import Egress, UnknownRoute
from testkit.readme import readme_block
from testkit.tls import Certificates

PROXY_PASSWORD = "pr0xy-s3cret-91"
EGRESS = """
[egress]
proxy = "corp"

[[egress.proxies]]
name = "corp"
url = "${CORP_PROXY_URL}"

[[egress.proxies]]
name = "eu-static"
url = "http://egress-eu.internal:3128"

[[egress.tls]]
name = "wms"
client_certificate = "/etc/webhook-gateway/egress/wms/tls.crt"
client_key = "/etc/webhook-gateway/egress/wms/tls.key"
ca_bundle = "/etc/webhook-gateway/egress/wms/ca.crt"
trust_system_cas = false
min_version = "1.3"
"""
SUBSCRIBER = """
[[subscribers]]
name = "wms"
url = "https://wms.example.com/hooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    env = {"CORP_PROXY_URL": f"http://gateway:{PROXY_PASSWORD}@proxy.corp.internal:3128"}
    return load_config(path, env=env)


def test_proxies_and_tls_profiles_are_read_with_the_proxy_url_from_the_environment(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path, EGRESS + SUBSCRIBER + 'proxy = "eu-static"\ntls = "wms"\n')
    egress = config.egress
    assert egress.proxy == "corp" and [p.name for p in egress.proxies] == ["corp", "eu-static"]
    [profile] = egress.tls
    assert (profile.trust_system_cas, profile.min_version) == (False, "1.3")
    [subscriber] = config.subscribers
    assert (subscriber.proxy, subscriber.tls) == ("eu-static", "wms")


def test_a_proxy_password_is_never_in_the_configs_repr(tmp_path: Path) -> None:
    config = _load(tmp_path, EGRESS)
    assert PROXY_PASSWORD not in repr(config)
    assert "http://gateway:[hidden]@proxy.corp.internal:3128" in repr(config.egress.proxies[0])


@pytest.mark.parametrize(
    ("line", "key", "says"),
    [
        ('proxy = "crop"', "subscribers[0].proxy", "no proxy named 'crop' in [[egress.proxies]]"),
        ('tls = "wsm"', "subscribers[0].tls", "no tls named 'wsm' in [[egress.tls]]"),
        ('tls = "../etc"', "subscribers[0].tls", "matching regex"),
    ],
)
def test_a_subscriber_naming_an_undeclared_proxy_or_profile_is_refused_naming_the_key(
    tmp_path: Path, line: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, EGRESS + SUBSCRIBER + line + "\n")
    assert (caught.value.file, caught.value.key) == (str(tmp_path / "gateway.toml"), key)
    assert says in caught.value.reason


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[egress]\nproxy = "nowhere"\n', "egress.proxy"),
        ('[[egress.proxies]]\nname = "direct"\nurl = "http://p.internal:3128"\n', "name"),
        ('[[egress.proxies]]\nname = "p"\nurl = "https://p.internal:3128"\n', "url"),
        ('[[egress.proxies]]\nname = "p"\nurl = "http://p.internal:3128/x"\n', "url"),
        ('[[egress.proxies]]\nname = "p"\nurl = "http://user@p.internal:3128"\n', "url"),
        ('[[egress.proxies]]\nname = "p"\nurl = ""\n', "url"),
        ('[[egress.tls]]\nname = "t"\nclient_certificate = "/c.pem"\n', "client_key"),
        ('[[egress.tls]]\nname = "t"\ntrust_system_cas = false\n', "ca_bundle"),
        ('[[egress.tls]]\nname = "t"\nca_bundle = ""\n', "ca_bundle"),
        ('[[egress.tls]]\nname = "t"\nmin_version = "1.1"\n', "min_version"),
        ('[[egress.tls]]\nname = "t"\n[[egress.tls]]\nname = "t"\n', "egress.tls[1].name"),
    ],
)
def test_an_invalid_egress_table_is_refused_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert key in caught.value.key, caught.value
    assert caught.value.file == str(tmp_path / "gateway.toml")


def test_a_plain_http_subscriber_behind_the_default_proxy_is_refused_naming_its_url(
    tmp_path: Path,
) -> None:
    text = EGRESS + SUBSCRIBER.replace("https://", "http://")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.key == "subscribers[0].url"
    assert "https:// deliveries only" in caught.value.reason
    _load(tmp_path, text + 'proxy = "direct"\n')  # straight out: no proxy to mislead


def test_a_broker_subscriber_cannot_name_a_proxy_or_a_profile(tmp_path: Path) -> None:
    broker = '[[brokers]]\nname = "aws"\nkind = "sqs"\n'
    subscriber = (
        '[[subscribers]]\nname = "q"\nsecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\n'
        'tls = "wms"\ndestination = {kind = "sqs", broker = "aws", queue_url = "https://q/1/q"}\n'
    )
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, EGRESS + broker + subscriber)
    assert caught.value.key == "subscribers[0].tls"


def _profile(tmp_path: Path, **files: Path | str) -> Config:
    lines = "".join(f'{key} = "{value}"\n' for key, value in files.items())
    return _load(tmp_path, f'[[egress.tls]]\nname = "wms"\n{lines}')


@pytest.mark.parametrize(
    ("broken", "key", "says"),
    [
        ("client_certificate", "client_certificate", "cannot be read"),
        ("client_key", "client_key", "is empty"),
        ("ca_bundle", "ca_bundle", "holds no PEM certificate"),
    ],
)
def test_a_profile_file_that_cannot_serve_is_refused_at_start_naming_the_file_and_key(
    tmp_path: Path, broken: str, key: str, says: str
) -> None:
    certificates = Certificates(tmp_path / "pki")
    certificate, private_key = certificates.client_files("gateway")
    files: dict[str, Path | str] = {
        "client_certificate": certificate,
        "client_key": private_key,
        "ca_bundle": certificates.ca_file,
    }
    if broken == "client_certificate":
        files[broken] = tmp_path / "missing.crt"
    elif broken == "client_key":
        private_key.write_text("")
    else:
        certificates.ca_file.write_text("not a certificate\n")
    config = _profile(tmp_path, **files)
    with pytest.raises(ConfigError) as caught:
        Egress(config.egress, config.source_file)
    assert caught.value.file == str(tmp_path / "gateway.toml")
    assert caught.value.key == f"egress.tls[0].{key}"
    assert says in caught.value.reason


def test_a_key_that_is_not_the_certificates_is_refused_naming_client_key(tmp_path: Path) -> None:
    certificates = Certificates(tmp_path / "pki")
    certificate, _ = certificates.client_files("gateway")
    _, other_key = certificates.client_files("other")
    config = _profile(tmp_path, client_certificate=certificate, client_key=other_key)
    with pytest.raises(ConfigError) as caught:
        Egress(config.egress, config.source_file)
    assert caught.value.key == "egress.tls[0].client_key"


def test_a_route_names_the_proxy_and_context_and_direct_leaves_the_default_proxy(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path, EGRESS.split("[[egress.tls]]")[0])
    egress = Egress(config.egress)
    assert str(egress.route(None, None).proxy).endswith("@proxy.corp.internal:3128")
    assert str(egress.route("eu-static", None).proxy) == "http://egress-eu.internal:3128"
    assert egress.route("direct", None).proxy is None
    assert egress.route("direct", None).ssl is True
    with pytest.raises(UnknownRoute, match="no TLS profile named 'gone'"):
        egress.route(None, "gone")


def test_the_readmes_egress_example_is_a_config_the_gateway_reads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(readme_block("Egress: proxies and client certificates", "toml"))
    env = {
        "CORP_PROXY_URL": f"http://gateway:{PROXY_PASSWORD}@proxy.corp.internal:3128",
        "WMS_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "ERP_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    config = load_config(path, env=env)
    wms, erp = config.subscribers
    assert (wms.proxy, wms.tls, erp.proxy) == (None, "wms-mtls", "direct")
    assert config.egress.proxy == "corp" and config.egress.tls[0].min_version == "1.3"
