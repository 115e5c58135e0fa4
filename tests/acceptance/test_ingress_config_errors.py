"""Ingress settings that cannot work stop ``check-config`` and ``serve`` with exit code 2 and
a message naming the key, before anything starts listening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme

from testkit.processes import free_port, run_cli, to_toml

NOT_BASE64 = "whsec_this is not base64!"


def write(tmp_path: Path, ingress: dict[str, Any], sources: list[dict[str, Any]]) -> str:
    config = {
        "ingress": {"host": "127.0.0.1", "port": free_port(), **ingress},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "database": {"url": "postgresql://127.0.0.1:9/never-contacted"},
        "sources": sources,
    }
    path = tmp_path / "gateway.toml"
    path.write_text(to_toml(config))
    return str(path)


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_a_secret_its_scheme_cannot_use_stops_the_gateway_naming_the_source_secret(
    tmp_path: Path, command: str
) -> None:
    sources = [
        {"name": "shop", "scheme": "shopify", "secret": "fine"},
        {"name": "svix", "scheme": "standard-webhooks", "secret": NOT_BASE64},
    ]
    result = run_cli(command, "--config", write(tmp_path, {}, sources), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "webhook-gateway: invalid configuration:" in result.stderr
    assert "sources[1].secret" in result.stderr
    assert "whsec_' + base64" in result.stderr
    assert NOT_BASE64 not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_a_certificate_file_that_does_not_exist_stops_the_gateway_naming_the_key(
    tmp_path: Path, command: str
) -> None:
    key = tmp_path / "server.key"
    key.write_text("not a key")
    ingress = {"tls_cert_file": str(tmp_path / "missing.pem"), "tls_key_file": str(key)}
    result = run_cli(command, "--config", write(tmp_path, ingress, []), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "ingress.tls_cert_file" in result.stderr
    assert "missing.pem" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_a_certificate_is_refused_by_check_config(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN NOTHING-----\n")
    ingress = {"tls_cert_file": str(junk), "tls_key_file": str(junk)}
    result = run_cli("check-config", "--config", write(tmp_path, ingress, []))
    assert result.returncode == 2, result.stderr
    assert "ingress.tls_cert_file: not a PEM certificate and its private key" in result.stderr


@pytest.mark.parametrize(
    ("ingress", "key"),
    [
        ({"tls_cert_file": "/etc/ssl/cert.pem"}, "ingress.tls_key_file"),
        ({"tls_client_ca_file": "/etc/ssl/ca.pem"}, "ingress.tls_client_ca_file"),
        ({"require_tls": True}, "ingress.require_tls"),
        ({"trusted_proxies": ["10.0.0.0/33"]}, "ingress.trusted_proxies[0]"),
        ({"rate_limit_per_second": 0}, "ingress.rate_limit_per_second"),
    ],
)
def test_ingress_settings_that_contradict_each_other_are_refused_when_loaded(
    tmp_path: Path, ingress: dict[str, Any], key: str
) -> None:
    result = run_cli("check-config", "--config", write(tmp_path, ingress, []))
    assert result.returncode == 2, result.stderr
    assert key in result.stderr


def test_a_valid_tls_setup_passes_check_config(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, clients = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(clients))
    ingress = {
        "tls_cert_file": str(cert),
        "tls_key_file": str(key),
        "tls_client_ca_file": str(clients),
        "trusted_proxies": ["10.0.0.0/8"],
        "allowed_cidrs": ["0.0.0.0/0", "::/0"],
        "rate_limit_per_second": 50,
        "rate_limit_burst": 100,
    }
    sources = [{"name": "shop", "scheme": "shopify", "secret": "s", "rate_limit_per_second": 5}]
    result = run_cli("check-config", "--config", write(tmp_path, ingress, sources))
    assert result.returncode == 0, result.stderr
    assert "ok (1 sources)" in result.stdout
