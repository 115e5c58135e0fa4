"""Realistic Shopify ``orders/create`` webhooks, signed the way Shopify signs them.

The request file has one request per line: ``webhook-id <TAB> signature <TAB> body``.
Shopify signs the raw body only (``X-Shopify-Hmac-Sha256``, base64 HMAC-SHA256), so a
body may be sent again under a new ``X-Shopify-Webhook-Id`` and still verify: the load
generators append a cycle number to the id when they wrap around the file, and prefix a
tag per run, so every request of a run carries a webhook id never seen before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from testkit.senders import shopify_signature

SOURCE = "shop"
SECRET = "bench-shop-secret-0123456789abcdef"
TOPIC = "orders/create"
SHOP_DOMAIN = "bench-shop.myshopify.com"
API_VERSION = "2025-10"

_FIRST = ("Jane", "Omar", "Li", "Ana", "Kofi", "Mia", "Ravi", "Sofia", "Jonas", "Aiko")
_LAST = ("Doe", "Haddad", "Wei", "Silva", "Mensah", "Novak", "Iyer", "Rossi", "Berg", "Sato")
_CITIES = (
    ("Springfield", "IL", "62701"),
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Madison", "WI", "53703"),
)
_PRODUCTS = (
    ("Classic Tee", "TSHIRT-BLK-M", "19.95", 300),
    ("Canvas Tote", "TOTE-NAT", "14.50", 250),
    ("Trail Socks", "SOCK-GRY-L", "9.00", 120),
    ("Rain Jacket", "JKT-NVY-S", "89.00", 700),
)


@dataclass(frozen=True, slots=True)
class Signed:
    webhook_id: str
    signature: str
    body: bytes


def order_body(n: int, rng: random.Random) -> bytes:
    """One ``orders/create`` payload of about 1 KB, as Shopify sends it (abridged)."""
    order_id = 5_600_000_000_000 + n
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first.lower()}.{last.lower()}{n}@example.com"
    created = datetime(2025, 11, 28, 10, 0, tzinfo=UTC) + timedelta(seconds=n)
    items = []
    subtotal = 0.0
    for k in range(rng.choice((1, 2))):
        title, sku, price, grams = rng.choice(_PRODUCTS)
        quantity = rng.randint(1, 3)
        subtotal += float(price) * quantity
        items.append(
            {
                "id": 14_000_000_000_000 + n * 3 + k,
                "variant_id": 44_000_000_000 + rng.randint(0, 999),
                "product_id": 8_000_000_000 + rng.randint(0, 99),
                "sku": sku,
                "title": title,
                "quantity": quantity,
                "price": price,
                "grams": grams,
                "requires_shipping": True,
                "taxable": True,
            }
        )
    city, province, zip_code = rng.choice(_CITIES)
    tax = round(subtotal * 0.0825, 2)
    order = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "confirmation_number": f"K{n:08d}",
        "contact_email": email,
        "created_at": created.isoformat(),
        "currency": "USD",
        "email": email,
        "financial_status": "paid",
        "fulfillment_status": None,
        "name": f"#{1000 + n}",
        "order_number": 1000 + n,
        "processed_at": created.isoformat(),
        "source_name": "web",
        "subtotal_price": f"{subtotal:.2f}",
        "total_price": f"{subtotal + tax + 9.95:.2f}",
        "total_tax": f"{tax:.2f}",
        "customer": {
            "id": 7_000_000_000 + n,
            "email": email,
            "first_name": first,
            "last_name": last,
        },
        "line_items": items,
        "shipping_address": {
            "first_name": first,
            "last_name": last,
            "address1": f"{100 + n % 900} Main St",
            "city": city,
            "province_code": province,
            "country_code": "US",
            "zip": zip_code,
        },
        "shipping_lines": [{"code": "STANDARD", "price": "9.95", "title": "Standard"}],
    }
    return orjson.dumps(order)


def generate(count: int, seed: int = 7) -> Iterator[Signed]:
    rng = random.Random(seed)
    for n in range(count):
        body = order_body(n, rng)
        yield Signed(f"{n:08d}", shopify_signature(SECRET, body), body)


def write_requests(path: Path, count: int) -> tuple[int, float]:
    """Write ``count`` signed requests; returns (count, mean body size in bytes)."""
    total = 0
    with path.open("wb") as out:
        for signed in generate(count):
            total += len(signed.body)
            out.write(f"{signed.webhook_id}\t{signed.signature}\t".encode())
            out.write(signed.body + b"\n")
    return count, total / max(count, 1)


def read_requests(path: Path) -> list[Signed]:
    signed = []
    with path.open("rb") as lines:
        for line in lines:
            webhook_id, signature, body = line.rstrip(b"\n").split(b"\t", 2)
            signed.append(Signed(webhook_id.decode(), signature.decode(), body))
    return signed


def headers(signed: Signed, webhook_id: str) -> dict[str, str]:
    """The headers Shopify sends with a webhook."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": TOPIC,
        "X-Shopify-Hmac-Sha256": signed.signature,
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": webhook_id,
        "X-Shopify-Triggered-At": "2025-11-28T10:00:00Z",
    }
