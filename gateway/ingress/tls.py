"""The ingress TLS server context, with optional client certificates (mTLS)."""

from __future__ import annotations

import ssl

__all__ = ["server_ssl_context"]

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def server_ssl_context(
    cert_file: str,
    key_file: str,
    client_ca_file: str | None = None,
    min_version: str = "TLSv1.2",
) -> ssl.SSLContext:
    """A server context for ``cert_file``/``key_file`` (PEM, chain in the cert file).

    With ``client_ca_file`` every client must present a certificate issued by one of
    those CAs (``CERT_REQUIRED``). ``min_version`` is ``"TLSv1.2"`` or ``"TLSv1.3"``.
    Raises ``ValueError`` for another version and ``OSError``/``ssl.SSLError`` for files
    that cannot be read or do not match.
    """
    if min_version not in _VERSIONS:
        raise ValueError(f"min_version must be one of {', '.join(_VERSIONS)}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = _VERSIONS[min_version]
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.verify_mode = ssl.CERT_NONE
    return context
