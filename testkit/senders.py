"""Sign requests the way senders do, written out from their own documentation.

One function per scheme gives the signature a sender puts in its header; the header
builders below put it on a request with the sender's other headers. Each builder takes
the secret, the body and a delivery id (the sender's event id) and returns the headers.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable

Sign = Callable[[str, bytes, str], dict[str, str]]

JSON = {"Content-Type": "application/json"}


def hmac_signature(
    key: str | bytes,
    message: bytes,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
) -> str:
    """The ``hmac`` scheme: ``prefix`` + the HMAC of ``message``, in hex or base64."""
    mac = hmac.new(key.encode() if isinstance(key, str) else key, message, algorithm)
    encoded = mac.hexdigest() if encoding == "hex" else base64.b64encode(mac.digest()).decode()
    return prefix + encoded


def shopify_signature(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body, keyed by the app secret."""
    return hmac_signature(secret, body, encoding="base64")


def woocommerce_signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body (Shopify's recipe)."""
    return shopify_signature(secret, body)


def github_signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return hmac_signature(secret, body, prefix="sha256=")


def stripe_signature(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """Stripe-Signature's ``v1``: hex HMAC-SHA256 of ``"{t}.{body}"``, keyed with the
    ``whsec_`` string itself."""
    return hmac_signature(secret, f"{timestamp}.".encode() + body)


def standard_webhooks_signature(
    secret: str, msg_id: str | bytes, timestamp: int | str | bytes, body: bytes
) -> str:
    """webhook-signature: ``v1,`` + base64 HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``,
    keyed with the base64 part of the ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = b".".join([_bytes(msg_id), _bytes(timestamp), body])
    return "v1," + hmac_signature(key, signed, encoding="base64")


def _bytes(value: str | int | bytes) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def shopify(
    secret: str, body: bytes, delivery: str, topic: str = "orders/create"
) -> dict[str, str]:
    """A Shopify webhook's headers."""
    return {
        **JSON,
        "X-Shopify-Hmac-Sha256": shopify_signature(secret, body),
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
    }


def woocommerce(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """A WooCommerce webhook's headers."""
    return {
        **JSON,
        "X-WC-Webhook-Signature": woocommerce_signature(secret, body),
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Topic": "order.created",
    }


def github(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """A GitHub webhook's headers (a push)."""
    return {
        **JSON,
        "X-Hub-Signature-256": github_signature(secret, body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
    }


def stripe(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """``Stripe-Signature: t=<unix>,v1=<signature>`` (id and type travel in the body)."""
    t = str(int(time.time()))
    return {**JSON, "Stripe-Signature": f"t={t},v1={stripe_signature(secret, t, body)}"}


def standard_webhooks(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """webhook-id / webhook-timestamp / webhook-signature, signed now."""
    t = str(int(time.time()))
    return {
        **JSON,
        "webhook-id": delivery,
        "webhook-timestamp": t,
        "webhook-signature": standard_webhooks_signature(secret, delivery, t, body),
    }


def generic_hmac(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """The ``hmac`` scheme configured as ``sha512=`` + base64 HMAC-SHA512 of
    ``"{timestamp}.{body}"``, the timestamp in X-Timestamp, the id in X-Event-Id."""
    t = str(int(time.time()))
    signed = hmac_signature(
        secret, f"{t}.".encode() + body, algorithm="sha512", encoding="base64", prefix="sha512="
    )
    return {**JSON, "X-Signature": signed, "X-Timestamp": t, "X-Event-Id": delivery}


def basic(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """HTTP Basic authentication; the secret is ``user:password``."""
    return {**JSON, "Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def bearer(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``."""
    return {**JSON, "Authorization": f"Bearer {secret}"}


def api_key_header(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """The key alone in a header of the source's choosing (here X-Api-Key)."""
    return {**JSON, "X-Api-Key": secret}
