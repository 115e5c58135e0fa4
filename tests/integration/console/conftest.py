"""The console on the admin app, in process (aiohttp test client), over a real database."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.config import Config
from gateway.store import deliveries
from gateway.store.database import Database
from gateway.store.records import AttemptResult, Settlement
from testkit.tokens import mint
from tests.integration.api.conftest import admin_client, api_config, authenticator_for

Client = TestClient[web.Request, web.Application]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


async def log_in(client: Client, token: str) -> str:
    """Log ``client`` in with ``token``; the CSRF token of the new session."""
    form = await client.get("/console/login")
    answer = await client.post(
        "/console/login",
        data={"csrf": csrf_of(await form.text()), "token": token},
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    home = await client.get("/console/")
    assert home.status == 200, await home.text()
    return csrf_of(await home.text())


@pytest.fixture
def console_config() -> Config:
    return api_config()


@pytest.fixture
async def console(db: Database, console_config: Config) -> AsyncIterator[Client]:
    client = await admin_client(db, console_config, authenticator_for(db, console_config))
    yield client
    await client.close()


@pytest.fixture
def logged_in(console: Client) -> Callable[..., Any]:
    async def make(*scopes: str) -> str:
        return await log_in(console, mint(*scopes))

    return make


async def settle_due(
    db: Database, status: str = "dead", code: int | None = 500, snippet: str = "failing"
) -> int:
    """Claim every due delivery and settle it with one attempt that answered ``code``."""
    token = secrets.token_hex(8)
    claimed = await deliveries.claim(db, 1000, 60, token)
    ok = code is not None and 200 <= code < 300
    result = AttemptResult(
        started_at=datetime.now(UTC),
        duration_ms=12.5,
        outcome="success" if ok else ("http_error" if code else "connection_error"),
        status_code=code,
        error=None if ok else (f"HTTP {code}" if code else "ClientConnectorError: refused"),
        response_snippet=snippet,
    )
    await deliveries.settle(
        db,
        [
            Settlement(c.id, token, c.attempts, result, status, None)  # type: ignore[arg-type]
            for c in claimed
        ],
    )
    return len(claimed)
