"""Configuration: TOML file, env overrides, ``${VAR}`` expansion, validation, frozen records."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load_config

Loader = Callable[..., Config]


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "gateway.toml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def load(write: Callable[[str], Path]) -> Loader:
    def load(text: str, env: Mapping[str, str] | None = None) -> Config:
        return load_config(write(text), env=env or {})

    return load


def refusal(write: Callable[[str], Path], text: str, env: Mapping[str, str] | None = None) -> str:
    path = write(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_no_file_and_no_env_gives_the_documented_defaults() -> None:
    config = load_config(None, env={})
    assert config.source_file == "<defaults>"
    assert config.ingress.host == "0.0.0.0"  # noqa: S104 - the documented public listener
    assert config.ingress.port == 8080
    assert (config.admin.host, config.admin.port) == ("127.0.0.1", 8081)
    assert config.database.url is None
    assert config.delivery.allowed_private_cidrs == ()
    assert config.delivery.lease_seconds > config.delivery.timeout_seconds
    assert config.api.jwt_secret is None
    assert config.sources == ()


def test_an_empty_file_gives_the_defaults_and_records_the_file(
    write: Callable[[str], Path],
) -> None:
    path = write("")
    config = load_config(path, env={})
    assert config.source_file == str(path)
    assert config.ingress.port == 8080


def test_the_config_file_can_come_from_gateway_config(write: Callable[[str], Path]) -> None:
    path = write("[ingress]\nport = 7000\n")
    assert load_config(None, env={"GATEWAY_CONFIG": str(path)}).ingress.port == 7000


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(missing, env={})
    assert info.value.file == str(missing)


def test_invalid_toml_is_refused(write: Callable[[str], Path]) -> None:
    assert "not valid TOML" in refusal(write, "[ingress\nport = 1\n")


def test_file_values_replace_defaults(load: Loader) -> None:
    config = load(
        """
        [ingress]
        port = 9100
        [delivery]
        max_attempts = 3
        allowed_private_cidrs = ["10.0.0.0/8"]
        """
    )
    assert config.ingress.port == 9100
    assert config.delivery.max_attempts == 3
    assert config.delivery.allowed_private_cidrs == ("10.0.0.0/8",)


def test_an_unknown_key_is_refused_naming_the_file_and_the_key(
    write: Callable[[str], Path],
) -> None:
    message = refusal(write, "[delivery]\nmax_attemps = 3\n")
    assert "delivery.max_attemps" in message
    assert "unknown key" in message


def test_an_unknown_section_is_refused_naming_it(write: Callable[[str], Path]) -> None:
    assert "deliveries" in refusal(write, "[deliveries]\nmax_attempts = 3\n")


def test_a_wrong_type_is_refused_naming_the_key(write: Callable[[str], Path]) -> None:
    message = refusal(write, '[ingress]\nport = "x"\n')
    assert "ingress.port" in message
    assert "int" in message


def test_a_port_out_of_range_is_refused(write: Callable[[str], Path]) -> None:
    assert "admin.port" in refusal(write, "[admin]\nport = 70000\n")


def test_a_writer_that_never_starts_a_batch_is_refused(write: Callable[[str], Path]) -> None:
    assert "writer.spread_at" in refusal(write, "[writer]\nspread_at = 0\n")


@pytest.mark.parametrize(
    "url", ["mysql://user@db.example/gateway", "sqlite:///gateway.db", "postgresql://"]
)
def test_a_database_url_that_is_not_postgresql_is_refused(
    write: Callable[[str], Path], url: str
) -> None:
    assert "database.url" in refusal(write, f'[database]\nurl = "{url}"\n')


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://gateway:pw@db.example:5432/gateway",
        "postgres://db.example/gateway",
        "postgresql:///gateway?host=/var/run/postgresql",
    ],
)
def test_postgresql_urls_are_accepted(load: Loader, url: str) -> None:
    assert load(f'[database]\nurl = "{url}"\n').database.url == url


def test_an_env_override_is_parsed_as_a_number_and_wins_over_the_file(load: Loader) -> None:
    config = load("[ingress]\nport = 8000\n", env={"GATEWAY_INGRESS__PORT": "9000"})
    assert config.ingress.port == 9000
    assert isinstance(config.ingress.port, int)


def test_an_env_override_fills_a_section_the_file_does_not_have(load: Loader) -> None:
    config = load("", env={"GATEWAY_DELIVERY__ENABLED": "false", "GATEWAY_LOG__LEVEL": "DEBUG"})
    assert config.delivery.enabled is False
    assert config.log.level == "DEBUG"


def test_the_database_url_comes_from_the_env_as_a_string(load: Loader) -> None:
    url = "postgresql://gateway:s3cret@db.internal:5432/gateway"
    config = load('[database]\nurl = "postgresql://file/db"\n', env={"GATEWAY_DATABASE__URL": url})
    assert config.database.url == url


def test_a_wrong_typed_env_value_names_the_env_var_as_its_origin(
    write: Callable[[str], Path],
) -> None:
    path = write("[ingress]\nport = 8000\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"GATEWAY_INGRESS__PORT": "not-a-port"})
    assert info.value.file == "$GATEWAY_INGRESS__PORT"
    assert info.value.key == "ingress.port"


def test_an_unknown_key_from_the_env_names_the_env_var(write: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(""), env={"GATEWAY_INGRESS__PROT": "9000"})
    assert info.value.file == "$GATEWAY_INGRESS__PROT"
    assert info.value.key == "ingress.prot"


def test_an_env_value_for_a_string_key_stays_a_string_even_if_it_looks_like_a_number(
    load: Loader,
) -> None:
    config = load("", env={"GATEWAY_DATABASE__DATA_DIR": "2024"})
    assert config.database.data_dir == "2024"


def test_a_value_refused_by_validation_names_the_env_var_it_came_from(
    write: Callable[[str], Path],
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(""), env={"GATEWAY_DATABASE__URL": "mysql://db.example/gateway"})
    assert info.value.key == "database.url"
    assert info.value.file == "$GATEWAY_DATABASE__URL"


def test_env_vars_without_the_prefix_or_separator_are_ignored(load: Loader) -> None:
    config = load("", env={"INGRESS__PORT": "1", "GATEWAY_INGRESS_PORT": "2", "PORT": "3"})
    assert config.ingress.port == 8080


SOURCE = """
[[sources]]
name = "shop"
scheme = "shopify"
secret = {secret}
"""


def test_a_source_secret_is_expanded_from_the_environment(load: Loader) -> None:
    config = load(SOURCE.format(secret='"${SHOP_SECRET}"'), env={"SHOP_SECRET": "shpss_abc123"})
    source = config.source("shop")
    assert source is not None
    assert source.secret == "shpss_abc123"
    assert source.all_secrets == ("shpss_abc123",)


def test_expansion_keeps_the_text_around_the_variable(load: Loader) -> None:
    config = load(SOURCE.format(secret='"pre-${PART}-post"'), env={"PART": "middle"})
    assert config.sources[0].secret == "pre-middle-post"


def test_an_unset_variable_is_refused_naming_the_key_and_the_variable(
    write: Callable[[str], Path],
) -> None:
    message = refusal(write, SOURCE.format(secret='"${SHOP_SECRET}"'))
    assert "sources[0].secret" in message
    assert "SHOP_SECRET" in message


@pytest.mark.parametrize("secret", ['""', '"  "'])
def test_an_empty_source_secret_is_refused(write: Callable[[str], Path], secret: str) -> None:
    assert "sources[0].secret" in refusal(write, SOURCE.format(secret=secret))


def test_a_variable_that_expands_to_an_empty_secret_is_refused(
    write: Callable[[str], Path],
) -> None:
    message = refusal(write, SOURCE.format(secret='"${SHOP_SECRET}"'), env={"SHOP_SECRET": ""})
    assert "sources[0].secret" in message


def test_an_empty_secret_among_rotation_secrets_is_refused(write: Callable[[str], Path]) -> None:
    text = SOURCE.format(secret='"current"') + 'secrets = ["previous", " "]\n'
    assert "sources[0].secret" in refusal(write, text)


def test_a_shopify_source_without_a_secret_is_refused(write: Callable[[str], Path]) -> None:
    message = refusal(write, '[[sources]]\nname = "shop"\nscheme = "shopify"\n')
    assert "sources[0].secret" in message
    assert "shopify" in message


def test_a_source_with_scheme_none_needs_no_secret(load: Loader) -> None:
    config = load('[[sources]]\nname = "open"\nscheme = "none"\n')
    source = config.source("open")
    assert source is not None
    assert source.all_secrets == ()


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ("-1", "from 0 (off)"),
        ("nan", "from 0 (off)"),
        ("inf", "from 0 (off)"),
        ("1e12", "to 315360000 (10 years)"),
        ('"week"', "Expected float"),
    ],
)
def test_a_replay_window_that_is_no_number_of_seconds_is_refused(
    write: Callable[[str], Path], window: str, reason: str
) -> None:
    text = f'[[sources]]\nname = "open"\nscheme = "none"\nreplay_window_seconds = {window}\n'
    message = refusal(write, text)
    assert "sources[0].replay_window_seconds: " in message
    assert reason in message


def test_a_replay_window_is_seconds_and_zero_turns_it_off(load: Loader) -> None:
    text = '[[sources]]\nname = "{}"\nscheme = "none"\nreplay_window_seconds = {}\n'
    config = load(text.format("a", 0) + text.format("b", 3600) + text.format("c", 0.5))
    windows = [s.replay_window_seconds for s in config.sources]
    assert windows == [0.0, 3600.0, 0.5]
    assert (
        load('[[sources]]\nname = "d"\nscheme = "none"\n').sources[0].replay_window_seconds is None
    )


def test_duplicate_source_names_are_refused(write: Callable[[str], Path]) -> None:
    text = '[[sources]]\nname = "a"\nscheme = "none"\n' * 2
    message = refusal(write, text)
    assert "sources[1].name" in message
    assert "duplicate" in message


def test_a_source_name_that_is_not_a_slug_is_refused(write: Callable[[str], Path]) -> None:
    assert "sources[0].name" in refusal(write, '[[sources]]\nname = "My Shop"\nscheme = "none"\n')


@pytest.mark.parametrize("lease", [15.0, 10.0])
def test_a_lease_not_longer_than_the_timeout_is_refused(
    write: Callable[[str], Path], lease: float
) -> None:
    text = f"[delivery]\ntimeout_seconds = 15.0\nlease_seconds = {lease}\n"
    assert "delivery.lease_seconds" in refusal(write, text)


def test_a_bad_cidr_in_allowed_private_cidrs_is_refused(write: Callable[[str], Path]) -> None:
    text = '[delivery]\nallowed_private_cidrs = ["10.0.0.0/8", "10.0.0.0/33"]\n'
    message = refusal(write, text)
    assert "delivery.allowed_private_cidrs[1]" in message
    assert "10.0.0.0/33" in message


def test_a_short_jwt_secret_is_refused(write: Callable[[str], Path]) -> None:
    assert "api.jwt_secret" in refusal(write, f'[api]\njwt_secret = "{"k" * 31}"\n')


def test_a_jwt_secret_of_32_characters_is_accepted(load: Loader) -> None:
    assert load(f'[api]\njwt_secret = "{"k" * 32}"\n').api.jwt_secret == "k" * 32


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "301"])
def test_a_revocation_refresh_out_of_bounds_is_refused(
    write: Callable[[str], Path], value: str
) -> None:
    message = refusal(write, f"[api]\nrevocation_refresh_seconds = {value}\n")
    assert "api.revocation_refresh_seconds" in message


def test_revocations_are_refreshed_within_5_seconds_by_default(load: Loader) -> None:
    assert load("").api.revocation_refresh_seconds == 5.0
    assert load("[api]\nrevocation_refresh_seconds = 0.5\n").api.revocation_refresh_seconds == 0.5


def test_a_jti_is_required_by_default_only_of_the_gateways_own_hs_tokens(load: Loader) -> None:
    assert load("").api.jti_required
    rs256 = '[api]\njwt_algorithm = "RS256"\njwt_public_key_file = "/k.pem"\n'
    assert not load(rs256).api.jti_required
    assert load(rs256 + "require_jti = true\n").api.jti_required
    assert not load("[api]\nrequire_jti = false\n").api.jti_required


def test_the_config_is_frozen(load: Loader) -> None:
    config = load('[[sources]]\nname = "open"\nscheme = "none"\n')
    with pytest.raises(AttributeError):
        config.ingress = config.ingress  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.ingress.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.sources[0].secret = "x"  # type: ignore[misc]
    assert isinstance(config.sources, tuple)


def test_with_database_url_returns_a_new_config_and_leaves_the_old_one(load: Loader) -> None:
    config = load("")
    changed = config.with_database_url("postgresql://db.example/gateway")
    assert changed.database.url == "postgresql://db.example/gateway"
    assert config.database.url is None


SUBSCRIBER_SECRET = "whsec_" + "A" * 32


def _declared(url: str) -> str:
    return f'[[subscribers]]\nname = "wms"\nurl = "{url}"\nsecret = "{SUBSCRIBER_SECRET}"\n'


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.1:8000/hook", "host 127.1 is not a canonical IPv4 address; write 127.0.0.1"),
        ("http://0x0a.0.0.5/", "host 0x0a.0.0.5 is not a canonical IPv4 address; write 10.0.0.5"),
        ("https://ops:pw@wms.example/", "must not carry credentials"),
        ("http://10.0.0.1\\\\@wms.example/", "not a valid URL: backslash"),
        ("wms.example/hook", "must be an absolute http(s) URL"),
    ],
)
def test_a_declared_subscriber_url_is_read_as_delivery_reads_it(
    write: Callable[[str], Path], url: str, reason: str
) -> None:
    message = refusal(write, _declared(url))
    assert "subscribers[0].url: " in message
    assert reason in message


def test_a_declared_subscriber_on_a_public_name_loads(load: Loader) -> None:
    assert load(_declared("https://wms.example/hook")).subscribers[0].url == (
        "https://wms.example/hook"
    )
