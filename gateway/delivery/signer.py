"""Standard Webhooks signing for outbound deliveries."""

from __future__ import annotations

import base64
import functools
import hmac
import secrets

__all__ = ["SECRET_PREFIX", "decode_secret", "new_secret", "sign", "signature_header"]

SECRET_PREFIX = "whsec_"


def new_secret(nbytes: int = 24) -> str:
    """A fresh signing secret, shown to the user as ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode()


@functools.lru_cache(maxsize=1024)
def decode_secret(secret: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (remembered: every attempt signs)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    if not key:
        raise ValueError("empty signing secret")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(decode_secret(secret), content, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per valid secret, space-separated (rotation without downtime)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)
