"""Subscribers' proxy and TLS profile through the admin API: names the config file
declares, never a file or an address; refused with a 422 naming the field otherwise; and a
test event that goes out through the proxy with the client certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from gateway.brokers.config import SqsBroker
from gateway.config.egress import EgressConfig
from gateway.store.database import Database
from testkit.sinks import Sink, answer
from testkit.tinyproxy import TinyProxy, tinyproxy_installed
from testkit.tls import Certificates
from testkit.tokens import bearer
from tests.integration.api.conftest import admin_client, api_config, authenticator_for

SQS = {"kind": "sqs", "broker": "aws", "queue_url": "https://sqs.eu-central-1.amazonaws.com/1/q"}


async def serving(db: Database, egress: dict[str, Any]) -> TestClient:  # type: ignore[type-arg]
    config = msgspec.structs.replace(
        api_config(),
        egress=msgspec.convert(egress, EgressConfig),
        brokers=(SqsBroker(name="aws", region="eu-west-1"),),
    )
    return await admin_client(db, config, authenticator_for(db, config))


@pytest.fixture
async def api(db: Database) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client = await serving(
        db,
        {
            "proxies": [{"name": "corp", "url": "http://gw:pr0xy-pw@127.0.0.1:9"}],
            "tls": [{"name": "wms"}],
        },
    )
    yield client
    await client.close()


async def post(api: TestClient, token: Callable[..., str], body: dict[str, Any]) -> Any:  # type: ignore[type-arg]
    response = await api.post("/api/v1/subscribers", json=body, headers=bearer(token("write")))
    return response.status, await response.json()


URL = "https://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"url": URL, "proxy": "crop"}, "proxy", "no proxy named 'crop' in [[egress.proxies]]"),
        (
            {"url": URL, "tls": "erp"},
            "tls",
            "no tls named 'erp' in [[egress.tls]] (declared: 'wms')",
        ),
        ({"url": URL, "tls": "/etc/passwd"}, "tls", "matching regex"),
        ({"url": "http://127.0.0.1:9/h", "proxy": "corp"}, "proxy", "https:// deliveries only"),
        ({"destination": SQS, "proxy": "corp"}, "proxy", "is for url subscribers"),
        ({"destination": SQS, "tls": "wms"}, "tls", "is for url subscribers"),
    ],
)
async def test_a_proxy_or_profile_the_file_does_not_declare_for_it_is_a_422_naming_the_field(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    status, problem = await post(api, token, {"name": "wms", **body})
    assert status == 422, problem
    [error] = problem["errors"]
    assert error["field"] == field and says in error["message"], error


async def test_declared_names_are_kept_and_shown_and_the_proxy_password_never_is(
    api: TestClient,  # type: ignore[type-arg]
    token: Callable[..., str],
) -> None:
    status, created = await post(api, token, {"name": "wms", "url": URL, "proxy": "corp"})
    assert status == 201, created
    assert (created["proxy"], created["tls"]) == ("corp", None)
    path, headers = f"/api/v1/subscribers/{created['id']}", bearer(token("write"))
    refused = await api.patch(path, json={"tls": "nope"}, headers=headers)
    assert refused.status == 422 and (await refused.json())["errors"][0]["field"] == "tls"
    changed = await api.patch(path, json={"proxy": "direct", "tls": "wms"}, headers=headers)
    assert changed.status == 200, await changed.text()
    body = await changed.json()
    assert (body["proxy"], body["tls"]) == ("direct", "wms")
    moved = await api.patch(path, json={"destination": SQS}, headers=headers)
    body = await moved.json()
    assert moved.status == 200 and (body["proxy"], body["tls"]) == (None, None)
    text = await (await api.get("/api/v1/subscribers", headers=bearer(token("read")))).text()
    assert "pr0xy-pw" not in text and '127.0.0.1:9"' not in text.replace(URL, "")


@pytest.mark.skipif(not tinyproxy_installed(), reason="tinyproxy is not installed")
async def test_a_test_event_goes_through_the_proxy_with_the_client_certificate(
    db: Database, token: Callable[..., str], tmp_path: Path
) -> None:
    certificates = Certificates(tmp_path / "pki")
    certificate, key = certificates.client_files("gateway")
    sink = Sink(
        behaviour=answer(200), ssl_context=certificates.server_context(client_ca=certificates.ca)
    )
    await sink.start()
    proxy = TinyProxy(connect_ports=[sink.port])
    profile = {
        "name": "wms",
        "client_certificate": str(certificate),
        "client_key": str(key),
        "ca_bundle": str(certificates.ca_file),
    }
    api = await serving(db, {"proxies": [{"name": "corp", "url": proxy.url}], "tls": [profile]})
    try:
        body = {"name": "wms", "url": sink.url, "proxy": "corp", "tls": "wms"}
        status, created = await post(api, token, body)
        assert status == 201, created
        response = await api.post(
            f"/api/v1/subscribers/{created['id']}/test", headers=bearer(token("write"))
        )
        result = await response.json()
        assert result["ok"] is True, result
        assert [a.client_name for a in sink.arrivals] == ["gateway"]
        assert proxy.requests() == [f"CONNECT 127.0.0.1:{sink.port}"]
    finally:
        await api.close()
        await sink.stop()
        proxy.close()
