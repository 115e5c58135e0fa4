"""Signed, expiring links to an event's body, for thin payloads.

``{base}/payloads/v1/{event_id}?expires=<unix>&sig=<base64url HMAC-SHA256>`` over
``"{event_id}.{expires}"``, keyed by ``delivery.payload_link_secret`` or, when that is
unset, a key generated once in the data directory (like the JWT key: one machine only;
set the secret when several replicas serve links).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

from gateway.config import Config

__all__ = ["LINK_PATH", "PayloadLinks", "link_key"]

LINK_PATH = "/payloads/v1/{event_id}"
log = logging.getLogger("gateway.delivery")
Verdict = Literal["valid", "forged", "expired"]


def link_key(config: Config) -> bytes:
    """The HMAC key: from the config, else generated once in the data directory."""
    if config.delivery.payload_link_secret:
        return config.delivery.payload_link_secret.encode()
    path = Path(config.database.data_dir) / "payload-link-key"
    try:
        if path.exists():
            key = path.read_text().strip()
            if len(key) >= 32:
                return key.encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    except OSError as exc:
        log.warning(
            "no payload link key in %s (%s): links made now are valid for this process only;"
            " set delivery.payload_link_secret",
            path,
            exc.strerror,
        )
        key = secrets.token_urlsafe(48)
    return key.encode()


def _base_url(config: Config) -> str:
    if config.delivery.payload_base_url:
        return config.delivery.payload_base_url.rstrip("/")
    host = config.ingress.host
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if config.ingress.tls_cert_file else "http"
    return f"{scheme}://{host}:{config.ingress.port}"


class PayloadLinks:
    """Makes and checks links; ``ttl_seconds`` is how long a link stays valid."""

    def __init__(self, key: bytes, base_url: str, ttl_seconds: float) -> None:
        if len(key) < 16:
            raise ValueError("payload link key too short")
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_config(cls, config: Config) -> PayloadLinks:
        return cls(link_key(config), _base_url(config), config.delivery.payload_link_ttl_seconds)

    def _sign(self, event_id: str, expires: int) -> str:
        digest = hmac.new(self.key, f"{event_id}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, event_id: str, now: float) -> str:
        """A link to ``event_id``'s body, valid for ``ttl_seconds`` from ``now`` (unix)."""
        expires = int(now + self.ttl_seconds)
        path = LINK_PATH.format(event_id=quote(event_id, safe=""))
        query = urlencode({"expires": expires, "sig": self._sign(event_id, expires)})
        return f"{self.base_url}{path}?{query}"

    def check(self, event_id: str, expires: str, sig: str, now: float) -> Verdict:
        """Whether a link is genuine and still valid; the signature is checked first."""
        try:
            when = int(expires)
        except ValueError:
            return "forged"
        if not hmac.compare_digest(self._sign(event_id, when).encode(), sig.encode()):
            return "forged"
        return "valid" if now <= when else "expired"
