"""The real ``serve``: a subscriber declared in the TOML file reaches an on-premises
system that demands a client certificate, through the company's proxy (which demands a
password of its own, given by the environment)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
import pytest

from testkit.polling import until
from testkit.processes import GatewayProcess, run_cli
from testkit.sinks import Sink, answer
from testkit.tinyproxy import TinyProxy, tinyproxy_installed
from testkit.tls import Certificates
from tests.acceptance.conftest import base_config
from tests.acceptance.helpers import send_order

pytestmark = pytest.mark.skipif(not tinyproxy_installed(), reason="tinyproxy is not installed")

PROXY_PASSWORD = "c0rp-pr0xy-pw"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_an_order_reaches_an_mtls_warehouse_through_the_company_proxy(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    certificates = Certificates(tmp_path / "pki")
    certificate, key = certificates.client_files("gateway-prod")
    context = certificates.server_context(client_ca=certificates.ca)
    wms = await Sink(behaviour=answer(200), ssl_context=context).start()
    proxy = TinyProxy(connect_ports=[wms.port], basic_auth=f"gateway:{PROXY_PASSWORD}")
    config = base_config(database_url)
    config["egress"] = {
        "proxy": "corp",
        "proxies": [{"name": "corp", "url": "${CORP_PROXY_URL}"}],
        "tls": [
            {
                "name": "wms-mtls",
                "client_certificate": str(certificate),
                "client_key": str(key),
                "ca_bundle": str(certificates.ca_file),
                "min_version": "1.2",
            }
        ],
    }
    config["subscribers"] = [
        {"name": "wms", "url": wms.url, "secret": SECRET, "tls": "wms-mtls"},
    ]
    folder = tmp_path / "gw"
    folder.mkdir()
    proxy_url = f"http://gateway:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    gateway = GatewayProcess(folder, config, env={"CORP_PROXY_URL": proxy_url})
    try:
        gateway.start()
        status, _ = await send_order(http, gateway, orjson.dumps({"id": 7}), "wh-7")
        assert status == 202
        [arrival] = await wms.wait_for(1)
        assert arrival.client_name == "gateway-prod"
        assert orjson.loads(arrival.body) == {"id": 7}
        await until(lambda: proxy.requests() == [f"CONNECT 127.0.0.1:{wms.port}"])
        assert PROXY_PASSWORD not in gateway.logs()
    finally:
        gateway.kill()
        print(gateway.logs()[-5000:])
        await wms.stop()
        proxy.close()


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_a_client_certificate_file_that_cannot_be_read_stops_the_gateway_naming_file_and_key(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[database]\ndata_dir = "{tmp_path / "data"}"\n'
        "[[egress.tls]]\n"
        'name = "wms-mtls"\n'
        f'client_certificate = "{tmp_path / "missing.crt"}"\n'
        f'client_key = "{tmp_path / "missing.key"}"\n'
    )
    done = run_cli(command, "--config", str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{path}: egress.tls[0].client_certificate: " in done.stderr
    assert "missing.crt cannot be read" in done.stderr
    assert "Traceback" not in done.stderr
