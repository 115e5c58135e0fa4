"""Scheme presets: where each sender puts its signature, event id and event type."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

from gateway.config import Scheme, SourceConfig
from gateway.ingress.schemes import PRESETS, apply_preset, build_verifier

SECRETS = {"standard-webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "none": None}


def source(scheme: Scheme, **fields: str) -> SourceConfig:
    secret = SECRETS.get(scheme, "a-secret")
    return msgspec.structs.replace(SourceConfig(name="s", scheme=scheme, secret=secret), **fields)


def test_every_configurable_scheme_has_a_preset() -> None:
    assert set(PRESETS) == set(get_args(Scheme))


@pytest.mark.parametrize(
    ("scheme", "signature_header", "event_id", "event_type"),
    [
        ("shopify", "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Shopify-Topic"),
        ("woocommerce", "X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Topic"),
        ("github", "X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event"),
        ("stripe", "Stripe-Signature", "/id", "/type"),
        ("standard-webhooks", "webhook-signature", "webhook-id", "/type"),
        ("api-key", "Authorization", None, None),
        ("basic", "Authorization", None, None),
        ("none", None, None, None),
    ],
)
def test_unset_fields_are_filled_from_the_senders_preset(
    scheme: Scheme, signature_header: str | None, event_id: str | None, event_type: str | None
) -> None:
    filled = apply_preset(source(scheme))
    assert (filled.signature_header, filled.event_id, filled.event_type) == (
        signature_header,
        event_id,
        event_type,
    )


def test_fields_the_user_set_are_kept() -> None:
    mine = source("stripe", event_id="/data/object/id", event_type="X-Type", ordering_key="/o")
    filled = apply_preset(mine)
    assert (filled.event_id, filled.event_type, filled.ordering_key) == (
        "/data/object/id",
        "X-Type",
        "/o",
    )
    assert filled.signature_header == "Stripe-Signature"


def test_a_generic_hmac_source_gets_no_invented_locations() -> None:
    mine = source("hmac", signature_header="X-Sig")
    assert apply_preset(mine) == msgspec.structs.replace(mine, replay_window_seconds=WEEK)


WEEK = 7 * 86400.0
BODY_ONLY = {"hmac", "shopify", "woocommerce", "github"}


@pytest.mark.parametrize("scheme", get_args(Scheme))
def test_schemes_that_sign_the_body_alone_remember_bodies_for_a_week_by_default(
    scheme: Scheme,
) -> None:
    window = apply_preset(source(scheme)).replay_window_seconds
    assert window == (WEEK if scheme in BODY_ONLY else 0)


@pytest.mark.parametrize(("scheme", "chosen"), [("shopify", 0.0), ("github", 60.0), ("none", 30.0)])
def test_a_replay_window_the_user_set_is_kept_zero_included(scheme: Scheme, chosen: float) -> None:
    mine = msgspec.structs.replace(source(scheme), replay_window_seconds=chosen)
    assert apply_preset(mine).replay_window_seconds == chosen


@pytest.mark.parametrize("scheme", [s for s in get_args(Scheme) if s != "hmac"])
def test_every_scheme_builds_a_verifier(scheme: Scheme) -> None:
    assert callable(build_verifier(source(scheme)).verify)
