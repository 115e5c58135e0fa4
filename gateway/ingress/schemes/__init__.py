"""Inbound verification schemes: one module per scheme, chosen by ``SourceConfig.scheme``.

:func:`build_verifier` turns a source into its :class:`~gateway.ingress.verify.Verifier`;
:data:`PRESETS` and :func:`apply_preset` fill in where each sender puts its signature,
event id and event type when the user left them unset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import msgspec

from gateway.config import SourceConfig
from gateway.ingress.schemes import (
    amazon_sp_api,
    api_key,
    basic,
    generic,
    github,
    none,
    shopify,
    standard_webhooks,
    stripe,
    woocommerce,
)
from gateway.ingress.schemes.common import Preset
from gateway.ingress.schemes.woocommerce import is_woocommerce_ping
from gateway.ingress.verify import Verifier

__all__ = ["PRESETS", "Preset", "apply_preset", "build_verifier", "is_woocommerce_ping"]

_BUILDERS: Mapping[str, Callable[[SourceConfig], Verifier]] = MappingProxyType(
    {
        "hmac": generic.build,
        "shopify": shopify.build,
        "woocommerce": woocommerce.build,
        "github": github.build,
        "stripe": stripe.build,
        "standard-webhooks": standard_webhooks.build,
        "basic": basic.build,
        "api-key": api_key.build,
        "none": none.build,
        "amazon-sp-api": amazon_sp_api.build,
    }
)

PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "hmac": generic.PRESET,
        "shopify": shopify.PRESET,
        "woocommerce": woocommerce.PRESET,
        "github": github.PRESET,
        "stripe": stripe.PRESET,
        "standard-webhooks": standard_webhooks.PRESET,
        "basic": basic.PRESET,
        "api-key": api_key.PRESET,
        "none": none.PRESET,
        "amazon-sp-api": amazon_sp_api.PRESET,
    }
)


def apply_preset(source: SourceConfig) -> SourceConfig:
    """``source`` with ``signature_header``, ``event_id``, ``event_type`` and
    ``replay_window_seconds`` filled in from its scheme's preset wherever the user left
    them unset."""
    preset = PRESETS[source.scheme]
    window = source.replay_window_seconds
    return msgspec.structs.replace(
        source,
        signature_header=source.signature_header or preset.signature_header,
        event_id=source.event_id or preset.event_id,
        event_type=source.event_type or preset.event_type,
        replay_window_seconds=preset.replay_window_seconds if window is None else window,
    )


def build_verifier(source: SourceConfig) -> Verifier:
    """The verifier for ``source``; raises ``ValueError`` for a secret its scheme cannot use.

    Build verifiers once per source (at start-up or when a source changes), not per
    request: secrets are decoded here.
    """
    return _BUILDERS[source.scheme](apply_preset(source))
