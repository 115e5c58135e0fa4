"""Idempotency-Key: a retried create returns the first result, also under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp.test_utils import TestClient

from testkit.tokens import bearer, mint

BODY = {"name": "warehouse", "url": "http://127.0.0.1:9/hook"}


async def test_a_retried_create_returns_the_first_answer_and_creates_nothing_new(
    api: TestClient,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    headers = {**bearer(token("write")), "Idempotency-Key": "create-warehouse-1"}
    first = await api.post("/api/v1/subscribers", json=BODY, headers=headers)
    again = await api.post("/api/v1/subscribers", json=BODY, headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = await (await api.get("/api/v1/subscribers", headers=bearer(token("read")))).json()
    assert len(listed["data"]) == 1


async def test_two_concurrent_identical_posts_create_one_subscriber(
    api: TestClient,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    headers = {**bearer(token("write")), "Idempotency-Key": "concurrent"}
    answers = await asyncio.gather(
        *(api.post("/api/v1/subscribers", json=BODY, headers=headers) for _ in range(2))
    )
    bodies = [await a.json() for a in answers]
    assert [a.status for a in answers] == [201, 201]
    assert bodies[0]["id"] == bodies[1]["id"]
    listed = await (await api.get("/api/v1/subscribers", headers=bearer(token("read")))).json()
    assert len(listed["data"]) == 1


async def test_the_same_key_with_a_different_body_is_refused(
    api: TestClient,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    headers = {**bearer(token("write")), "Idempotency-Key": "reused"}
    await api.post("/api/v1/subscribers", json=BODY, headers=headers)
    other = await api.post("/api/v1/subscribers", json={**BODY, "name": "erp"}, headers=headers)
    assert other.status == 422
    assert other.content_type == "application/problem+json"


async def test_a_refused_create_is_remembered_as_refused(
    api: TestClient,
    token: Callable[..., str],  # type: ignore[type-arg]
) -> None:
    headers = {**bearer(token("write")), "Idempotency-Key": "bad"}
    bad = {"name": "x", "url": "ftp://nowhere"}
    first = await api.post("/api/v1/subscribers", json=bad, headers=headers)
    again = await api.post("/api/v1/subscribers", json=bad, headers=headers)
    assert (first.status, again.status) == (422, 422)
    assert await first.json() == await again.json()


async def test_keys_belong_to_the_token_subject(api: TestClient, token: Callable[..., str]) -> None:  # type: ignore[type-arg]
    alice = bearer(mint("write", subject="alice"))
    bob = bearer(mint("write", subject="bob"))
    a = await api.post("/api/v1/subscribers", json=BODY, headers={**alice, "Idempotency-Key": "k"})
    b = await api.post(
        "/api/v1/subscribers",
        json={**BODY, "name": "other"},
        headers={**bob, "Idempotency-Key": "k"},
    )
    assert (a.status, b.status) == (201, 201)
    assert (await a.json())["id"] != (await b.json())["id"]
