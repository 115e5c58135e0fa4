"""The ingress tests' senders: a source configured for each, its secret, and how it signs.

The signing recipes are the kit's (testkit/senders.py), written out from each sender's
own documentation.
"""

from __future__ import annotations

import base64
import dataclasses

from gateway.config import SourceConfig
from testkit.senders import (
    Sign,
    api_key_header,
    basic,
    bearer,
    generic_hmac,
    github,
    shopify,
    standard_webhooks,
    stripe,
    woocommerce,
)


@dataclasses.dataclass(frozen=True)
class Sender:
    """A source as configured for one sender, its secret, and how that sender signs."""

    source: SourceConfig
    secret: str
    sign: Sign

    @property
    def name(self) -> str:
        return self.source.name


def _sender(name: str, scheme: str, secret: str, sign: Sign, **fields: object) -> Sender:
    source = SourceConfig(name=name, scheme=scheme, secret=secret, **fields)  # type: ignore[arg-type]
    return Sender(source, secret, sign)


SENDERS = (
    _sender("shop", "shopify", "shpss_0f1e2d3c4b5a", shopify),
    _sender("woo", "woocommerce", "wc-secret-9b8a", woocommerce),
    _sender("gh", "github", "It's a Secret to Everybody", github),
    _sender("stripe", "stripe", "whsec_test_secret_7f6e5d", stripe),
    _sender(
        "svix",
        "standard-webhooks",
        "whsec_" + base64.b64encode(b"standard-webhooks-key-32-bytes!!").decode(),
        standard_webhooks,
    ),
    _sender(
        "custom",
        "hmac",
        "custom-hmac-secret",
        generic_hmac,
        signature_header="X-Signature",
        algorithm="sha512",
        encoding="base64",
        signature_prefix="sha512=",
        timestamp_header="X-Timestamp",
        event_id="X-Event-Id",
    ),
    _sender("legacy", "basic", "sender:correct horse battery", basic),
    _sender("token", "api-key", "key-5c4b3a29", bearer),
    _sender("keyed", "api-key", "key-0a1b2c3d", api_key_header, signature_header="X-Api-Key"),
)

ORDER = b'{"id": "evt_1", "type": "order.created", "order": {"id": 1001, "total": "12.50"}}'
