"""The admin API of a gateway in a subprocess, called over HTTP as an operator calls it."""

from __future__ import annotations

from typing import Any

import aiohttp

from testkit.processes import GatewayProcess
from testkit.tokens import bearer


async def register(
    http: aiohttp.ClientSession, gateway: GatewayProcess, token: str, url: str, **fields: Any
) -> dict[str, Any]:
    """Register a subscriber of ``url`` (named ``warehouse`` unless ``fields`` say); the
    API's answer, its secret included."""
    body = {"name": fields.pop("name", "warehouse"), "url": url, **fields}
    async with http.post(
        f"{gateway.admin}/api/v1/subscribers", json=body, headers=bearer(token)
    ) as response:
        payload: dict[str, Any] = await response.json()
        assert response.status == 201, payload
        return payload
