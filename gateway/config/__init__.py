"""Typed, frozen configuration: TOML file plus ``GATEWAY_<SECTION>__<KEY>`` overrides.

Every value is validated once, as it is loaded; an invalid config raises
:class:`ConfigError` naming the file, the key and the reason. ``schema`` holds the
sections (with their constraints), ``loading`` reads the file and the environment,
``errors`` says what was refused.
"""

from __future__ import annotations

from gateway.config.delivery import DeliveryConfig
from gateway.config.errors import ConfigError
from gateway.config.loading import ENV_PREFIX, load_config
from gateway.config.operational import OperationalEventsConfig
from gateway.config.schema import (
    AdminConfig,
    ApiConfig,
    Config,
    DatabaseConfig,
    IngressConfig,
    LogConfig,
    MetricsConfig,
    PrivacyConfig,
    RetentionConfig,
    SubscriberConfig,
    WriterConfig,
)
from gateway.domain.source import SLUG, Scheme, SourceConfig, check_source
from gateway.domain.validation import Invalid

__all__ = [
    "ENV_PREFIX",
    "SLUG",
    "AdminConfig",
    "ApiConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DeliveryConfig",
    "IngressConfig",
    "LogConfig",
    "MetricsConfig",
    "OperationalEventsConfig",
    "PrivacyConfig",
    "RetentionConfig",
    "Scheme",
    "SourceConfig",
    "SubscriberConfig",
    "WriterConfig",
    "load_config",
    "validate_source",
]


def validate_source(source: SourceConfig, where: str = "<api>", key: str = "source") -> None:
    """The checks a source passes in the file, for sources that come through the API."""
    try:
        check_source(source)
    except Invalid as exc:
        raise ConfigError(where, f"{key}.{exc.field}", exc.reason) from None
