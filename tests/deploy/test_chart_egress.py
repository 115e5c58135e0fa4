"""The chart's ``egress`` values: proxies whose URLs reach the program only through the
environment, and TLS profiles whose Secrets are mounted whole where the TOML names them."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path
from typing import Any

import pytest

from .conftest import FULLNAME, MINIMAL, Rendered, container, env_names, merge

PROXY = {"name": "corp", "url": "http://gateway:pr0xy-pw@proxy.corp.internal:3128"}
PROFILE = {
    "name": "wms-mtls",
    "secretName": "wms-client-certificate",
    "caBundleKey": "ca.crt",
    "trust_system_cas": False,
    "min_version": "1.3",
}
DIR = "/etc/webhook-gateway/egress/wms-mtls"
WMS = {
    "name": "wms",
    "url": "https://wms.plant-7.corp.internal/hooks",
    "secret": "whsec_" + "W" * 32,
    "tls": "wms-mtls",
}


def egress(out: Rendered) -> dict[str, Any]:
    return dict(tomllib.loads(out.config_toml())["egress"])


def test_a_proxy_url_reaches_the_program_only_through_the_environment(render: Any) -> None:
    out = render(merge(MINIMAL, {"egress": {"proxy": "corp", "proxies": [PROXY]}}))
    assert "pr0xy-pw" not in out.config_toml()
    assert egress(out) == {
        "proxy": "corp",
        "proxies": [{"name": "corp", "url": "${GATEWAY_PROXY_CORP_URL}"}],
    }
    data = out.get("Secret", FULLNAME)["data"]
    assert base64.b64decode(data["GATEWAY_PROXY_CORP_URL"]).decode() == PROXY["url"]
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_PROXY_CORP_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "GATEWAY_PROXY_CORP_URL"


def test_a_proxy_url_can_come_from_a_secret_the_cluster_already_has(render: Any) -> None:
    proxy = {"name": "corp", "urlSecret": {"name": "corp-proxy", "key": "url"}}
    out = render(merge(MINIMAL, {"egress": {"proxies": [proxy]}}))
    assert egress(out)["proxies"] == [{"name": "corp", "url": "${GATEWAY_PROXY_CORP_URL}"}]
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_PROXY_CORP_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "corp-proxy", "key": "url"}


def test_a_proxy_without_a_url_is_refused(render: Any) -> None:
    with pytest.raises(Exception, match=r"\"corp\" needs a url"):
        render(merge(MINIMAL, {"egress": {"proxies": [{"name": "corp"}]}}))


def test_a_tls_profile_mounts_its_secret_whole_where_the_toml_names_its_files(
    render: Any,
) -> None:
    out = render(merge(MINIMAL, {"egress": {"tls": [PROFILE]}, "subscribers": [WMS]}))
    assert egress(out)["tls"] == [
        {
            "name": "wms-mtls",
            "client_certificate": f"{DIR}/tls.crt",
            "client_key": f"{DIR}/tls.key",
            "ca_bundle": f"{DIR}/ca.crt",
            "trust_system_cas": False,
            "min_version": "1.3",
        }
    ]
    for where, spec in out.pod_specs():
        [volume] = [v for v in spec["volumes"] if v["name"] == "egress-tls-wms-mtls"]
        assert volume["secret"] == {"secretName": "wms-client-certificate"}, where
        [mount] = [m for m in container(spec)["volumeMounts"] if m["name"] == volume["name"]]
        # No subPath: the kubelet updates a Secret mounted whole, never one by subPath.
        assert mount == {"name": volume["name"], "mountPath": DIR, "readOnly": True}, where


def test_a_ca_bundle_can_come_from_a_secret_of_its_own(render: Any) -> None:
    profile = {"name": "private-ca", "caBundleSecretName": "corp-root-ca"}
    out = render(merge(MINIMAL, {"egress": {"tls": [profile]}}))
    [rendered] = egress(out)["tls"]
    assert rendered == {
        "name": "private-ca",
        "ca_bundle": "/etc/webhook-gateway/egress/private-ca-ca/ca.crt",
    }
    for _, spec in out.pod_specs():
        assert {"name": "egress-ca-private-ca", "secret": {"secretName": "corp-root-ca"}} in spec[
            "volumes"
        ]


def test_the_rendered_egress_config_is_one_the_program_reads(render: Any, tmp_path: Path) -> None:
    config_module = pytest.importorskip("gateway.config")
    values = {
        "egress": {"proxy": "corp", "proxies": [PROXY], "tls": [PROFILE]},
        "subscribers": [WMS],
    }
    out = render(merge(MINIMAL, values))
    path = tmp_path / "config.toml"
    path.write_text(out.config_toml())
    env = {
        "GATEWAY_PROXY_CORP_URL": PROXY["url"],
        "GATEWAY_SUBSCRIBER_WMS_SECRET": WMS["secret"],
    }
    config = config_module.load_config(path, env=env)
    assert config.egress.proxy == "corp" and config.egress.proxies[0].url == PROXY["url"]
    assert config.subscribers[0].tls == "wms-mtls"


def test_the_schema_refuses_a_proxy_named_direct(render: Any) -> None:
    proxy = {**PROXY, "name": "direct"}
    with pytest.raises(Exception, match="egress/proxies/0/name"):
        render(merge(MINIMAL, {"egress": {"proxies": [proxy]}}))
