"""Each sender's signing recipe, written out from its own documentation.

Every function takes the secret, the body and a delivery id, and returns the headers that
sender would put on the request.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from gateway.config import SourceConfig

Sign = Callable[[str, bytes, str], dict[str, str]]

JSON = {"Content-Type": "application/json"}


def _b64_hmac(secret: str, message: bytes, digest: str = "sha256") -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, digest).digest()).decode()


def shopify(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body, keyed by the app secret."""
    return {
        **JSON,
        "X-Shopify-Hmac-Sha256": _b64_hmac(secret, body),
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Topic": "orders/create",
    }


def woocommerce(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body."""
    return {
        **JSON,
        "X-WC-Webhook-Signature": _b64_hmac(secret, body),
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Topic": "order.created",
    }


def github(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """X-Hub-Signature-256: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        **JSON,
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
    }


def stripe(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """Stripe-Signature: ``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">``; the ``whsec_``
    string itself is the key (id and type travel in the body)."""
    t = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {**JSON, "Stripe-Signature": f"t={t},v1={digest}"}


def standard_webhooks(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """webhook-id / webhook-timestamp / webhook-signature, signed by the reference library."""
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(delivery, now, body.decode())
    return {
        **JSON,
        "webhook-id": delivery,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def generic_hmac(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """Our own ``hmac`` scheme as configured below: ``sha512=`` + base64 HMAC-SHA512 of
    ``"{timestamp}.{body}"``, the timestamp in X-Timestamp."""
    t = str(int(time.time()))
    signed = _b64_hmac(secret, f"{t}.".encode() + body, "sha512")
    return {**JSON, "X-Signature": f"sha512={signed}", "X-Timestamp": t, "X-Event-Id": delivery}


def basic(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """HTTP Basic authentication; the secret is ``user:password``."""
    return {**JSON, "Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def bearer(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``."""
    return {**JSON, "Authorization": f"Bearer {secret}"}


def api_key_header(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """The key alone in a header of the source's choosing."""
    return {**JSON, "X-Api-Key": secret}


def unsigned(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    return dict(JSON)


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
