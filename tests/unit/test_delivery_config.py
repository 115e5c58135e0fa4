"""The ``[delivery]`` keys of the delivery engine: defaults, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config


def load(tmp_path: Path, delivery: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "gateway.toml"
    path.write_text("[delivery]\n" + delivery + "\n")
    return load_config(path, env=env or {})


def test_the_defaults_disable_after_five_days_and_probe_after_a_minute() -> None:
    config = load_config(None, env={})
    delivery = config.delivery
    assert delivery.disable_after_seconds == 5 * 86400
    assert delivery.circuit_cooldown_seconds == 60
    assert delivery.retry_schedule == ()
    assert delivery.forward_headers == ()


def test_a_schedule_and_forwarded_headers_can_come_from_the_environment() -> None:
    env = {
        "GATEWAY_DELIVERY__RETRY_SCHEDULE": "[5, 300, 1800]",
        "GATEWAY_DELIVERY__FORWARD_HEADERS": '["X-Shopify-Topic"]',
    }
    config = load_config(None, env=env)
    assert config.delivery.retry_schedule == (5.0, 300.0, 1800.0)
    assert config.delivery.forward_headers == ("X-Shopify-Topic",)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("retry_schedule = [5, -1]", "delivery.retry_schedule"),
        ("circuit_failure_ratio = 1.5", "delivery.circuit_failure_ratio"),
        ("circuit_cooldown_seconds = 0", "delivery.circuit_cooldown_seconds"),
        ("circuit_consecutive_failures = -1", "delivery.circuit_consecutive_failures"),
        ("disable_after_seconds = -5", "delivery.disable_after_seconds"),
        ('forward_headers = ["X Shop"]', "delivery.forward_headers[0]"),
        ('payload_base_url = "hooks.example.com"', "delivery.payload_base_url"),
        ('payload_link_secret = "short"', "delivery.payload_link_secret"),
        ("job_batch_size = 0", "delivery.job_batch_size"),
        ("max_age_seconds = 0", "delivery.max_age_seconds"),
    ],
)
def test_an_invalid_delivery_setting_is_refused_naming_its_key(
    tmp_path: Path, line: str, key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, line)
    assert info.value.key == key
