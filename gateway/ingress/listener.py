"""The ingress listener's TLS context from the config; a file that will not load is a
:class:`~gateway.config.ConfigError` naming its key, found at start-up or by ``check-config``.
"""

from __future__ import annotations

import ssl

from gateway.config import Config, ConfigError
from gateway.ingress.tls import server_ssl_context

__all__ = ["ingress_ssl_context"]


def ingress_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The server context for ``[ingress]``, or ``None`` when no certificate is configured."""
    ingress = config.ingress
    cert, key, client_ca = ingress.tls_cert_file, ingress.tls_key_file, ingress.tls_client_ca_file
    if cert is None or key is None:
        return None
    for name, path in (
        ("tls_cert_file", cert),
        ("tls_key_file", key),
        ("tls_client_ca_file", client_ca),
    ):
        if path is not None:
            _readable(config.source_file, name, path)
    context = _load(config.source_file, "tls_cert_file", cert, key, None, ingress.tls_min_version)
    if client_ca is None:
        return context
    return _load(
        config.source_file, "tls_client_ca_file", cert, key, client_ca, ingress.tls_min_version
    )


def _readable(file: str, name: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(file, f"ingress.{name}", f"{path}: {exc.strerror}") from None


def _load(
    file: str, name: str, cert: str, key: str, client_ca: str | None, min_version: str
) -> ssl.SSLContext:
    try:
        return server_ssl_context(cert, key, client_ca, min_version)
    except (ssl.SSLError, OSError, ValueError) as exc:
        what = "PEM CA certificates" if client_ca else "a PEM certificate and its private key"
        raise ConfigError(file, f"ingress.{name}", f"not {what} ({exc})") from None
