"""A TLS profile's ``SSLContext``, built from its files and rebuilt when they change.

The files are looked at (``stat``, no read) at most once a second, on use. What a path
resolves to is compared, not only its times: a Kubernetes Secret mount swaps a symlink
(``..data``) to a new directory, which leaves the old files as they were. A change builds
a new context; new connections use it, connections already open keep the old one until
they close (aiohttp's pool keys connections by context). A file that cannot be read or
does not hold what it should keeps the last good context, and logs the error once per
change of the files; delivery goes on.
"""

from __future__ import annotations

import logging
import os
import ssl
import time

from gateway.config.egress import EgressTls

__all__ = ["CHECK_EVERY_SECONDS", "TlsFileError", "TlsFiles", "build_context"]

log = logging.getLogger("gateway.delivery")

CHECK_EVERY_SECONDS = 1.0
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
_PEM = {
    "client_certificate": "CERTIFICATE",
    "client_key": "PRIVATE KEY",
    "ca_bundle": "CERTIFICATE",
}
Stamp = tuple[tuple[str, object], ...]


class TlsFileError(Exception):
    """A file of a TLS profile cannot serve: ``key`` names it, ``reason`` says why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _read_pem(profile: EgressTls, key: str) -> str:
    path = getattr(profile, key)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise TlsFileError(key, f"{path} cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise TlsFileError(key, f"{path} is empty")
    text = data.decode("ascii", "replace")
    if f"-----BEGIN {_PEM[key]}" not in text and not (
        key == "client_key" and "PRIVATE KEY-----" in text
    ):
        raise TlsFileError(key, f"{path} holds no PEM {_PEM[key].lower()}")
    return text


def build_context(profile: EgressTls) -> ssl.SSLContext:
    """A client context for ``profile``, from its files as they are now.

    Raises :class:`TlsFileError` naming the key whose file is unreadable or invalid."""
    if profile.trust_system_cas:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks host names
    context.minimum_version = _VERSIONS[profile.min_version]
    if profile.ca_bundle is not None:
        cas = _read_pem(profile, "ca_bundle")
        try:
            context.load_verify_locations(cadata=cas)
        except (ssl.SSLError, ValueError) as exc:
            raise TlsFileError("ca_bundle", f"{profile.ca_bundle}: {_reason(exc)}") from None
    if profile.client_certificate is not None and profile.client_key is not None:
        _read_pem(profile, "client_certificate")
        _read_pem(profile, "client_key")
        try:
            context.load_cert_chain(profile.client_certificate, profile.client_key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsFileError(
                "client_key",
                f"{profile.client_key} with {profile.client_certificate}: {_reason(exc)}",
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"not a usable PEM ({exc.reason})"
    return str(exc) or type(exc).__name__


class TlsFiles:
    """One profile's context, current with its files. Building it the first time raises
    :class:`TlsFileError`; later changes never do (the last good context stays)."""

    def __init__(self, profile: EgressTls) -> None:
        self.profile = profile
        self._stamp = self._files_now()
        self._context = build_context(profile)
        self._checked = time.monotonic()
        self.reloads = 0
        """How many times the files changed and a new context was built from them."""
        self.failures = 0
        """How many changes of the files could not be used (the old context stayed)."""

    def context(self) -> ssl.SSLContext:
        """The context to make a new connection with."""
        now = time.monotonic()
        if now - self._checked >= CHECK_EVERY_SECONDS:
            self._checked = now
            self.refresh()
        return self._context

    def refresh(self) -> None:
        """Rebuild the context if the files changed since it was built (or last tried)."""
        stamp = self._files_now()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            context = build_context(self.profile)
        except TlsFileError as exc:
            self.failures += 1
            log.error(
                "egress.tls %r: %s; deliveries keep the certificates read before",
                self.profile.name,
                exc,
            )
            return
        self._context = context
        self.reloads += 1
        log.info("egress.tls %r: files changed; new connections use them", self.profile.name)

    def _files_now(self) -> Stamp:
        """What each file is now: the path it resolves to and its identity, or why not."""
        stamp: list[tuple[str, object]] = []
        for key in ("client_certificate", "client_key", "ca_bundle"):
            path = getattr(self.profile, key)
            if path is None:
                continue
            try:
                st = os.stat(path)
                seen: object = (
                    os.path.realpath(path),
                    st.st_dev,
                    st.st_ino,
                    st.st_size,
                    st.st_mtime_ns,
                )
            except OSError as exc:
                seen = exc.strerror
            stamp.append((key, seen))
        return tuple(stamp)
