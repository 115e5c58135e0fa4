"""Sign requests the way senders do, written out from their documentation."""

from __future__ import annotations

import base64
import hashlib
import hmac


def shopify_headers(
    secret: str, body: bytes, webhook_id: str, topic: str = "orders/create"
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
    }


def hex_hmac_headers(secret: str, body: bytes, header: str, event_id: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", header: digest, "X-Event-Id": event_id}
