"""Certificates of a test's own (``trustme``) as PEM files, and TLS servers' contexts.

:class:`Certificates` is a CA, a server certificate for :data:`SERVER_NAME` (and
127.0.0.1), and client certificates issued on demand, each written under ``root``.
:class:`SecretMount` lays files out as a Kubernetes Secret volume does (``tls.crt`` →
``..data/tls.crt`` → ``..<timestamp>/tls.crt``) and swaps them as the kubelet does: a
new directory, then ``..data`` renamed onto it, the old files left as they were.
:class:`AlertingServer` refuses a handshake the way nginx or a JVM does: it sends its
alert and closes (aiohttp's server resets the connection instead, and the alert is lost).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import ssl
import threading
from pathlib import Path

import trustme

__all__ = ["SERVER_NAME", "AlertingServer", "Certificates", "SecretMount"]

SERVER_NAME = "wms.example.test"


class Certificates:
    """A CA, a server certificate signed by it, client certificates on demand."""

    def __init__(self, root: Path, server_name: str = SERVER_NAME) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert(server_name, "127.0.0.1")
        self.ca_file = root / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def client(self, name: str, ca: trustme.CA | None = None) -> tuple[bytes, bytes]:
        """A client certificate with common name ``name`` (by ``ca``, else this CA) and its
        key, as PEM."""
        leaf = (ca or self.ca).issue_cert(f"{name}.clients.test", common_name=name)
        return leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes()

    def client_files(self, name: str) -> tuple[Path, Path]:
        """:meth:`client`'s certificate and key written as files; their paths."""
        certificate, key = self.client(name)
        (self.root / f"{name}.crt").write_bytes(certificate)
        (self.root / f"{name}.key").write_bytes(key)
        return self.root / f"{name}.crt", self.root / f"{name}.key"

    def server_context(
        self,
        *,
        client_ca: trustme.CA | None = None,
        maximum_version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        """A server's context; with ``client_ca`` it demands a client certificate by it."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(context)
        if client_ca is not None:
            client_ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        if maximum_version is not None:
            context.maximum_version = maximum_version
        return context


class SecretMount:
    """A directory laid out as a Kubernetes Secret volume; :meth:`write` swaps all its
    files at once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._versions = itertools.count(1)

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, files: dict[str, bytes]) -> None:
        version = self.root / f"..2026_12_07_{next(self._versions):04d}"
        version.mkdir()
        for name, data in files.items():
            (version / name).write_bytes(data)
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        staged = self.root / "..data_tmp"
        staged.symlink_to(version.name)
        os.replace(staged, self.root / "..data")


class AlertingServer:
    """A blocking TLS server on loopback, in a thread: answers 200 to whoever completes
    the handshake; a refused handshake gets the server's alert, then an orderly close.
    ``refusals`` holds why it refused each one."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.refusals: list[str] = []
        self.served = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="alerting tls", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    self.served += 1
            except (ssl.SSLError, OSError) as exc:
                self.refusals.append(str(exc))
                _linger_close(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        self._socket.close()
        self._thread.join(5)


def _linger_close(conn: socket.socket) -> None:
    """Close after the alert as servers do: the write side first, then what the client
    sent is read and dropped until it closes (or a second passes). Over TLS 1.3 the client
    may have sent its request before the server refused its certificate; closing with that
    unread would answer it with a reset, which can overtake the alert on the client's side."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(1)
        for _ in range(64):  # bounded: at most 4 MB read, or a second's wait
            if not conn.recv(65536):
                break
    with contextlib.suppress(OSError):
        conn.close()
