"""The command line as an operator uses it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import aiohttp

from gateway.config import load_config
from testkit.processes import GatewayProcess, run_cli
from tests.acceptance.conftest import base_config

REPO = Path(__file__).resolve().parents[2]


EXAMPLE = REPO / "config.example.toml"
SECRETS = {"SHOP_SECRET": "a-shop-secret", "ERP_EXPORT_SECRET": "an-erp-secret"}


def test_check_config_accepts_the_example_config_with_its_secrets_from_the_environment() -> None:
    result = run_cli("check-config", "--config", str(EXAMPLE), env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_the_example_config_copied_as_it_is_holds_no_secret_and_opens_no_private_range() -> None:
    unset = run_cli("check-config", "--config", str(EXAMPLE))
    assert unset.returncode == 2
    assert "sources[0].secret: environment variable SHOP_SECRET is not set" in unset.stderr
    config = load_config(EXAMPLE, env=SECRETS)
    assert config.delivery.allowed_private_cidrs == ()
    assert [s.secret for s in config.sources] == list(SECRETS.values())


def test_check_config_exits_2_naming_the_file_the_key_and_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[delivery]\nmax_attemps = 3\n")
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "delivery.max_attemps" in result.stderr
    assert "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_refuses_a_wrong_type_and_a_bad_url(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[ingress]\nport = "eighty"\n')
    wrong_type = run_cli("check-config", "--config", str(config))
    config.write_text('[database]\nurl = "mysql://db/x"\n')
    bad_url = run_cli("check-config", "--config", str(config))
    assert (wrong_type.returncode, bad_url.returncode) == (2, 2)
    assert "ingress.port" in wrong_type.stderr
    assert "database.url" in bad_url.stderr


def _declared(url: str, opened: str = "") -> str:
    return (
        f"[delivery]\nallowed_private_cidrs = [{opened}]\n"
        f'[[subscribers]]\nname = "wms"\nurl = "{url}"\nsecret = "whsec_{"A" * 32}"\n'
    )


def test_check_config_refuses_a_subscriber_address_not_written_a_b_c_d(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(_declared("http://127.1:8000/hook", opened='"127.0.0.0/8"'))
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 2, result.stdout
    assert result.stderr.strip() == (
        f"webhook-gateway: invalid configuration: {config}: subscribers[0].url: "
        "host 127.1 is not a canonical IPv4 address; write 127.0.0.1"
    )


def test_check_config_refuses_a_subscriber_on_a_private_address_naming_the_key_that_opens_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(_declared("http://[::ffff:0:a00:5]/hook"))
    refused = run_cli("check-config", "--config", str(config))
    config.write_text(_declared("http://[::ffff:0:a00:5]/hook", opened='"10.0.0.0/8"'))
    opened = run_cli("check-config", "--config", str(config))
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.strip() == (
        f"webhook-gateway: invalid configuration: {config}: subscribers[0].url: "
        "::ffff:0:a00:5 is a private or reserved address; "
        "open its range with delivery.allowed_private_cidrs"
    )
    assert opened.returncode == 0, opened.stderr


def test_an_empty_source_secret_is_a_config_error_not_an_open_door(tmp_path: Path) -> None:
    config = tmp_path / "open.toml"
    config.write_text('[[sources]]\nname = "shop"\nscheme = "shopify"\nsecret = ""\n')
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "sources[0].secret" in result.stderr


def test_an_env_override_wins_over_the_file_and_is_named_when_wrong(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[ingress]\nport = 8080\n")
    result = run_cli(
        "check-config", "--config", str(config), env={"GATEWAY_INGRESS__PORT": "not-a-port"}
    )
    assert result.returncode == 2
    assert "$GATEWAY_INGRESS__PORT" in result.stderr


def test_serve_without_a_database_url_runs_on_the_embedded_database(tmp_path: Path) -> None:
    """What `make serve` does: no PostgreSQL installed, nothing in the environment."""
    gateway = GatewayProcess(tmp_path, {"database": {"data_dir": str(tmp_path / "data")}})
    gateway.start(timeout=120)
    try:
        token = gateway.token("read")

        async def list_subscribers() -> int:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"{gateway.admin}/api/v1/subscribers",
                    headers={"Authorization": f"Bearer {token}"},
                ) as response,
            ):
                return response.status

        assert asyncio.run(list_subscribers()) == 200
        assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()
    finally:
        assert gateway.stop() == 0
    assert "embedded PostgreSQL" in gateway.logs()


def test_a_token_without_the_needed_scope_is_refused_with_403(
    tmp_path: Path, database_url: str
) -> None:
    gateway = GatewayProcess(tmp_path, {"database": {"url": database_url}}).start()
    try:
        read_only = gateway.token("read")

        async def create() -> tuple[int, int, str]:
            async with aiohttp.ClientSession() as http:
                url = f"{gateway.admin}/api/v1/subscribers"
                body = {"name": "x", "url": "https://example.com/hook"}
                async with http.post(
                    url, json=body, headers={"Authorization": f"Bearer {read_only}"}
                ) as r:
                    forbidden, kind = r.status, r.content_type
                async with http.post(
                    url, json=body, headers={"Authorization": "Bearer not.a.token"}
                ) as r:
                    unauthenticated = r.status
            return forbidden, unauthenticated, kind

        assert asyncio.run(create()) == (403, 401, "application/problem+json")
    finally:
        gateway.stop()


def test_a_taken_port_ends_serve_with_one_line_before_anything_starts(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    data_dir = tmp_path / "data"
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[ingress]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[admin]\nport = 0\n[database]\ndata_dir = "{data_dir}"\n'
    )
    try:
        result = run_cli("serve", "--config", str(config), timeout=30)
    finally:
        taken.close()
    assert result.returncode == 1
    assert result.stderr.strip() == f"webhook-gateway: ingress: 127.0.0.1:{port} is already in use"
    assert not data_dir.exists()  # the embedded database was never started, nor migrated


def test_an_open_private_range_is_named_in_one_warning_at_start(
    start_gateway: Callable[..., GatewayProcess], database_url: str
) -> None:
    opened = start_gateway(base_config(database_url))
    closed = start_gateway(base_config(database_url, delivery={"allowed_private_cidrs": []}))
    warnings = [line for line in opened.logs().splitlines() if "allowed_private_cidrs" in line]
    assert len(warnings) == 1
    assert '"level":"warning"' in warnings[0]
    assert "127.0.0.0/8" in warnings[0]
    assert "allowed_private_cidrs" not in closed.logs()
