"""Bearer JWT: only well-formed, unexpired tokens with the configured algorithm and scope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import orjson
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway.config import ApiConfig, Config, DeliveryConfig
from gateway.store.database import Database
from testkit.tokens import JWT_SECRET, bearer
from tests.integration.api.conftest import admin_client, authenticator_for

SUBSCRIBERS = "/api/v1/subscribers"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _status(client: TestClient, token: str | None, method: str = "GET") -> int:  # type: ignore[type-arg]
    headers = bearer(token) if token is not None else {}
    body = {"name": "x", "url": "http://127.0.0.1:9/hook"}
    response = await client.request(
        method, SUBSCRIBERS, headers=headers, json=body if method == "POST" else None
    )
    if response.status >= 400:
        assert response.content_type == "application/problem+json"
    return response.status


async def test_no_token_is_401_with_a_bearer_challenge(api: TestClient) -> None:  # type: ignore[type-arg]
    response = await api.get(SUBSCRIBERS)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_valid_token_with_the_scope_is_let_in(
    api: TestClient, token: Callable[..., str]
) -> None:  # type: ignore[type-arg]
    assert await _status(api, token("read")) == 200
    assert await _status(api, token("admin")) == 200


async def test_a_good_token_without_the_scope_is_403(
    api: TestClient, token: Callable[..., str]
) -> None:  # type: ignore[type-arg]
    assert await _status(api, token("read"), "POST") == 403
    assert await _status(api, token("replay"), "GET") == 403


async def test_alg_none_is_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    header = _b64(orjson.dumps({"alg": "none", "typ": "JWT"}))
    claims = _b64(orjson.dumps({"sub": "x", "scope": "admin", "exp": int(time.time()) + 600}))
    assert await _status(api, f"{header}.{claims}.") == 401


async def test_a_token_signed_with_another_key_is_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    forged = jwt.encode(
        {"scope": "admin", "exp": int(time.time()) + 600}, "k" * 48, algorithm="HS256"
    )
    assert await _status(api, forged) == 401


async def test_an_expired_token_is_refused(api: TestClient, token: Callable[..., str]) -> None:  # type: ignore[type-arg]
    assert await _status(api, token("admin", ttl=-120)) == 401


async def test_a_token_without_exp_is_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    forever = jwt.encode({"scope": "admin"}, JWT_SECRET, algorithm="HS256")
    assert await _status(api, forever) == 401


async def test_another_hmac_algorithm_than_configured_is_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    other = jwt.encode(
        {"scope": "admin", "exp": int(time.time()) + 600}, JWT_SECRET, algorithm="HS512"
    )
    assert await _status(api, other) == 401


async def test_garbage_in_the_authorization_header_is_401_never_500(api: TestClient) -> None:  # type: ignore[type-arg]
    for value in ["", "x", "a.b.c", "....", "\u00e9\u00e9.\u00e9.\u00e9", "eyJ.eyJ.e"]:
        assert await _status(api, value) == 401


def _rsa_files(tmp_path: Path) -> tuple[Path, Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "private.pem").write_bytes(private)
    (tmp_path / "public.pem").write_bytes(public)
    return tmp_path / "private.pem", tmp_path / "public.pem", public


async def _rs256_client(
    db: Database, tmp_path: Path, **api: object
) -> tuple[TestClient, bytes, bytes]:  # type: ignore[type-arg]
    private, public, public_pem = _rsa_files(tmp_path)
    api_cfg = ApiConfig(jwt_algorithm="RS256", jwt_public_key_file=str(public), **api)  # type: ignore[arg-type]
    config = Config(api=api_cfg, delivery=DeliveryConfig(allowed_private_cidrs=("127.0.0.0/8",)))
    client = await admin_client(db, config, authenticator_for(db, config))
    return client, private.read_bytes(), public_pem


async def test_rs256_tokens_verify_with_the_public_key(db: Database, tmp_path: Path) -> None:
    client, private, _ = await _rs256_client(db, tmp_path)
    try:
        good = jwt.encode(
            {"scope": "read", "exp": int(time.time()) + 600}, private, algorithm="RS256"
        )
        assert await _status(client, good) == 200
    finally:
        await client.close()


async def test_hs256_signed_with_the_rs_public_key_is_refused(db: Database, tmp_path: Path) -> None:
    """The classic algorithm confusion: the public key used as an HMAC secret."""
    client, _, public_pem = await _rs256_client(db, tmp_path)
    try:
        claims = {"scope": "admin", "exp": int(time.time()) + 600}
        header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        payload = _b64(orjson.dumps(claims))
        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        assert await _status(client, f"{header}.{payload}.{_b64(signature)}") == 401
    finally:
        await client.close()


async def test_a_wrong_audience_or_issuer_is_refused(db: Database, tmp_path: Path) -> None:
    client, private, _ = await _rs256_client(db, tmp_path, jwt_audience="gateway", jwt_issuer="idp")
    try:
        exp = int(time.time()) + 600
        right = jwt.encode(
            {"scope": "read", "exp": exp, "aud": "gateway", "iss": "idp"},
            private,
            algorithm="RS256",
        )
        wrong_aud = jwt.encode(
            {"scope": "read", "exp": exp, "aud": "other", "iss": "idp"}, private, algorithm="RS256"
        )
        wrong_iss = jwt.encode(
            {"scope": "read", "exp": exp, "aud": "gateway", "iss": "evil"},
            private,
            algorithm="RS256",
        )
        assert await _status(client, right) == 200
        assert await _status(client, wrong_aud) == 401
        assert await _status(client, wrong_iss) == 401
    finally:
        await client.close()


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
async def test_jwks_keys_are_chosen_by_kid(db: Database, tmp_path: Path, algorithm: str) -> None:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    public_jwk = jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(
        key.public_key(), as_dict=True
    )
    (tmp_path / "jwks.json").write_bytes(orjson.dumps({"keys": [{**public_jwk, "kid": "k1"}]}))
    api_cfg = ApiConfig(jwt_algorithm=algorithm, jwt_jwks_file=str(tmp_path / "jwks.json"))  # type: ignore[arg-type]
    config = Config(api=api_cfg)
    client = await admin_client(db, config, authenticator_for(db, config))
    try:
        claims = {"scope": "read", "exp": int(time.time()) + 600}
        good = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k1"})
        unknown_kid = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k2"})
        assert await _status(client, good) == 200
        assert await _status(client, unknown_kid) == 401
    finally:
        await client.close()


def _hs256(**claims: object) -> str:
    base: dict[str, object] = {"scope": "admin", "exp": int(time.time()) + 600, "jti": "j-1"}
    return jwt.encode({**base, **claims}, JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "9999999999"},
        {"exp": str(int(time.time()) + 600)},
        {"iat": str(int(time.time()))},
        {"nbf": True},
        {"nbf": str(int(time.time()) - 60)},
        {"iat": False},
    ],
)
async def test_a_time_claim_that_is_not_a_json_number_is_refused(
    api: TestClient,  # type: ignore[type-arg]
    claims: dict[str, object],
) -> None:
    """PyJWT takes ``int(value)``: a numeric string or a boolean would pass its checks."""
    response = await api.get(SUBSCRIBERS, headers=bearer(_hs256(**claims)))
    assert response.status == 401
    assert (await response.json())["detail"] == "the token's exp, iat and nbf must be numbers"


async def test_fractional_times_are_numbers_too(api: TestClient) -> None:  # type: ignore[type-arg]
    token = _hs256(exp=time.time() + 600.5, iat=time.time() - 0.5, nbf=time.time() - 1.5)
    assert await _status(api, token) == 200


def test_minted_tokens_carry_a_random_jti_of_128_bits_in_hex(token: Callable[..., str]) -> None:
    jtis = {
        jwt.decode(token("read"), options={"verify_signature": False})["jti"] for _ in range(50)
    }
    assert len(jtis) == 50
    assert all(len(bytes.fromhex(j)) == 16 for j in jtis)


async def test_an_hs256_token_without_a_jti_is_refused_it_could_never_be_revoked(
    api: TestClient,  # type: ignore[type-arg]
) -> None:
    legacy = jwt.encode(
        {"sub": "cli", "scope": "admin", "exp": int(time.time()) + 600}, JWT_SECRET, "HS256"
    )
    response = await api.get(SUBSCRIBERS, headers=bearer(legacy))
    assert response.status == 401
    assert "no jti" in (await response.json())["detail"]
    assert await _status(api, _hs256(jti="")) == 401


async def test_an_identity_providers_token_without_a_jti_is_taken_unless_jti_is_required(
    db: Database, tmp_path: Path
) -> None:
    client, private, _ = await _rs256_client(db, tmp_path)
    (tmp_path / "strict").mkdir()
    strict, strict_private, _ = await _rs256_client(db, tmp_path / "strict", require_jti=True)
    try:
        claims = {"scope": "read", "exp": int(time.time()) + 600}
        without = jwt.encode(claims, private, algorithm="RS256")
        assert await _status(client, without) == 200
        without = jwt.encode(claims, strict_private, algorithm="RS256")
        with_jti = jwt.encode({**claims, "jti": "idp-1"}, strict_private, algorithm="RS256")
        assert await _status(strict, without) == 401
        assert await _status(strict, with_jti) == 200
    finally:
        await client.close()
        await strict.close()


async def test_a_jti_too_long_to_be_revoked_is_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    assert await _status(api, _hs256(jti="j" * 256)) == 200
    assert await _status(api, _hs256(jti="j" * 257)) == 401
