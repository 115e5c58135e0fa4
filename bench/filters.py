"""Ten warehouses' content filters, as a logistics platform would write them: each takes
the orders shipped to its countries, some also by total, SKU, shop, e-mail or type.

The bench's orders all ship to the US (bench/payloads.py), which none of them takes: with
them the fan-out evaluates ten filters an event and still writes the same two deliveries,
so what they add to workload 1 is the filters' own cost.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FILTERS"]


def _country(*codes: str) -> dict[str, Any]:
    if len(codes) == 1:
        return {"shipping_address.country_code": codes[0]}
    return {"shipping_address.country_code": {"$in": list(codes)}}


FILTERS: list[dict[str, Any]] = [
    {"body": _country("DE", "AT")},
    {"body": _country("FR")},
    {"body": _country("IT", "ES", "PT")},
    {"body": {**_country("GB"), "total_price": {"$gte": 100}}},
    {"body": {**_country("NL"), "line_items.sku": {"$startsWith": "TSHIRT"}}},
    {"$or": [{"body": _country("PL")}, {"body": _country("CZ")}]},
    {"body": _country("SE"), "headers": {"x-shopify-shop-domain": {"$endsWith": ".myshopify.com"}}},
    {"body": {**_country("DK"), "email": {"$regex": "@example\\.com$"}}},
    {"body": _country("JP"), "type": "orders/create"},
    {"body": {**_country("CA"), "total_price": {"$lt": 50}, "cancel_reason": {"$exist": False}}},
]
