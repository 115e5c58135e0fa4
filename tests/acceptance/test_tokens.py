"""API tokens as an operator handles them: minted and revoked with the real CLI, refused
by every running replica."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import jwt
import pytest

from testkit.polling import until
from testkit.processes import GatewayProcess, run_cli, to_toml
from testkit.tokens import bearer
from tests.acceptance.conftest import base_config

REFRESH = 0.5  # api.revocation_refresh_seconds of the gateways here
SUBSCRIBERS = "/api/v1/subscribers"


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(to_toml({"api": {"jwt_secret": "cli-tests-jwt-secret-" + "c" * 32}}))
    return path


def mint(config: Path, *args: str) -> tuple[str, str]:
    result = run_cli("token", "create", "--config", str(config), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


@pytest.mark.parametrize(
    ("args", "lifetime"),
    [
        (["--scope", "admin"], 24 * 3600),
        (["--scope", "read", "--scope", "admin"], 24 * 3600),
        (["--scope", "read"], 30 * 86400),
        (["--scope", "write", "--scope", "replay"], 30 * 86400),
        (["--scope", "admin", "--ttl", "15m"], 15 * 60),
        (["--scope", "read", "--ttl", "2w"], 14 * 86400),
    ],
)
def test_the_cli_mints_admin_tokens_for_24_hours_others_for_30_days_unless_told(
    config_file: Path, args: list[str], lifetime: int
) -> None:
    token, _ = mint(config_file, *args)
    claims = claims_of(token)
    assert claims["exp"] == claims["iat"] + lifetime  # type: ignore[operator]


def test_token_create_prints_only_the_token_on_stdout_and_its_jti_on_stderr(
    config_file: Path,
) -> None:
    token, stderr = mint(config_file, "--scope", "read")
    assert token.count(".") == 2 and "\n" not in token
    jti = claims_of(token)["jti"]
    assert isinstance(jti, str) and len(bytes.fromhex(jti)) == 16
    assert f"jti {jti}" in stderr


def test_token_revoke_refuses_what_it_cannot_read_tokens_without_a_jti_and_long_reasons(
    config_file: Path,
) -> None:
    unreadable = run_cli("token", "revoke", "--config", str(config_file), "not.a.token")
    assert unreadable.returncode == 2
    assert "cannot be read" in unreadable.stderr
    no_jti = jwt.encode({"scope": "admin", "exp": int(time.time()) + 60}, "k" * 32, "HS256")
    without = run_cli("token", "revoke", "--config", str(config_file), no_jti)
    assert without.returncode == 2
    assert "has no jti" in without.stderr
    long = run_cli("token", "revoke", "--config", str(config_file), "j-1", "--reason", "r" * 501)
    assert long.returncode == 2
    assert "at most 500 characters" in long.stderr
    assert "Traceback" not in unreadable.stderr + without.stderr + long.stderr


async def _refused_within(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, limit: float
) -> tuple[float, dict[str, object]]:
    """Poll with ``token`` until it is refused; how long that took, and the problem."""
    started = time.monotonic()

    async def refused() -> tuple[float, dict[str, object]] | None:
        async with http.get(f"{gateway.admin}{SUBSCRIBERS}", headers=bearer(token)) as r:
            if r.status == 200:
                return None
            assert r.status == 401, await r.text()
            return time.monotonic() - started, await r.json(content_type=None)

    return await until(refused, limit + 5, 0.02, what="the token to be refused")


async def _status(http: aiohttp.ClientSession, gateway: GatewayProcess, token: str) -> int:
    async with http.get(
        f"{gateway.admin}{SUBSCRIBERS}", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        return r.status


async def test_a_token_revoked_with_the_cli_is_refused_by_every_running_replica(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    config = base_config(database_url, api={"revocation_refresh_seconds": REFRESH})
    replicas = [start_gateway(config, role="api"), start_gateway(config, role="api")]
    token, keep = replicas[0].token("read"), replicas[0].token("read")
    assert [await _status(http, g, token) for g in replicas] == [200, 200]

    revoked = run_cli(
        "token", "revoke", token, "--config", str(replicas[0].config_path), "--reason", "leaked"
    )

    assert revoked.returncode == 0, revoked.stderr
    jti = claims_of(token)["jti"]
    assert revoked.stdout.startswith(f"revoked {jti} (until its token expires")
    for gateway in replicas:
        seconds, problem = await _refused_within(http, gateway, token, REFRESH)
        assert seconds <= REFRESH + 0.25, seconds  # the bound, and a request or two
        assert problem["detail"] == "the token has been revoked"
    assert [await _status(http, g, keep) for g in replicas] == [200, 200]
    async with http.get(
        f"{replicas[1].admin}/api/v1/tokens/revoked",
        headers={"Authorization": f"Bearer {replicas[1].token('admin')}"},
    ) as r:
        [entry] = (await r.json())["data"]
    assert (entry["jti"], entry["reason"], entry["revoked_by"]) == (jti, "leaked", "cli")
    assert entry["expires_at"] is not None


async def test_a_token_revoked_through_one_replicas_api_is_refused_by_the_other(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    config = base_config(database_url, api={"revocation_refresh_seconds": REFRESH})
    here, there = start_gateway(config, role="api"), start_gateway(config, role="api")
    token = here.token("read")
    assert await _status(http, there, token) == 200

    async with http.post(
        f"{here.admin}/api/v1/tokens/revoked",
        json={"jti": claims_of(token)["jti"]},
        headers={"Authorization": f"Bearer {here.token('admin')}"},
    ) as r:
        assert r.status == 200, await r.text()

    assert await _status(http, here, token) == 401  # at once where it was revoked
    seconds, _ = await _refused_within(http, there, token, REFRESH)
    assert seconds <= REFRESH + 0.25, seconds


async def test_a_bare_jti_can_be_revoked_too(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(
        base_config(database_url, api={"revocation_refresh_seconds": REFRESH}), role="api"
    )
    token = gateway.token("read")
    jti = str(claims_of(token)["jti"])

    revoked = run_cli("token", "revoke", jti, "--config", str(gateway.config_path))

    assert revoked.returncode == 0, revoked.stderr
    assert "kept for ever" in revoked.stdout
    await _refused_within(http, gateway, token, REFRESH)


async def test_a_jti_beginning_with_a_dash_is_revoked_when_given_after_two_dashes(
    start_gateway: Callable[..., GatewayProcess], database_url: str, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(base_config(database_url), role="api")
    config = str(gateway.config_path)

    as_option = run_cli("token", "revoke", "--config", config, "-issued-elsewhere")
    revoked = run_cli("token", "revoke", "--config", config, "--", "-issued-elsewhere")

    assert as_option.returncode == 2
    assert '"--"' in run_cli("token", "revoke", "--help").stdout
    assert revoked.returncode == 0, revoked.stderr
    async with http.get(
        f"{gateway.admin}/api/v1/tokens/revoked", headers=bearer(gateway.token("admin"))
    ) as r:
        assert r.status == 200, await r.text()
        listed = [entry["jti"] for entry in (await r.json())["data"]]
    assert listed == ["-issued-elsewhere"]
