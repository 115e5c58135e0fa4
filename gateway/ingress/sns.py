"""Amazon SNS envelopes: recognised, their signature verified, their message taken out.

A message that SNS delivers to an SQS queue (without raw delivery) is a JSON envelope:
``Type``, ``MessageId``, ``TopicArn``, ``Message``, ``Timestamp``, ``SignatureVersion``,
``Signature``, ``SigningCertURL``. The signature is RSA over the envelope's fields, one
``name\\nvalue\\n`` each in a fixed order, with SHA1 (version 1) or SHA256 (version 2),
under the key of the certificate at ``SigningCertURL``. That URL must be https on a host
the configuration trusts (``ingress.sns_certificate_hosts``: Amazon's SNS endpoints by
default) and name a ``.pem`` file: otherwise anyone able to put a message on the queue
could sign it with a certificate of their own. Each certificate is fetched once and kept.

A ``SubscriptionConfirmation`` (or ``UnsubscribeConfirmation``) is verified the same
way, then refused as no notification: the gateway never visits its ``SubscribeURL``, so
a topic sends to a queue only once its owner has confirmed the subscription themselves.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import re
import ssl
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "SNS_HEADERS",
    "CertificateUnavailable",
    "SnsCertificates",
    "SnsRefused",
    "is_envelope",
    "open_envelope",
]

_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        *("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    ),
}
_SIGNED["UnsubscribeConfirmation"] = _SIGNED["SubscriptionConfirmation"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_LABEL = re.compile(r"^[a-z0-9-]{1,63}$")

MAX_CERTIFICATE_BYTES = 64 * 1024
FETCH_TIMEOUT_SECONDS = 10.0
KEPT_CERTIFICATES = 64

SNS_HEADERS = ("x-amz-sns-message-id", "x-amz-sns-topic-arn")
"""The headers an unwrapped message is stored with: the envelope's id and topic."""


class SnsRefused(Exception):
    """The envelope is not a notification SNS signed (or signed one this gateway refuses);
    it never will be: a poison message."""


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched now: try the message again later."""


def is_envelope(document: object) -> bool:
    """Whether ``document`` (a parsed JSON body) is an SNS envelope."""
    return (
        isinstance(document, dict)
        and document.get("Type") in _TYPES
        and "TopicArn" in document
        and "MessageId" in document
    )


class SnsCertificates:
    """SNS signing certificates' keys, by URL: fetched once over https from a trusted host,
    then kept (the most recent :data:`KEPT_CERTIFICATES`)."""

    def __init__(self, hosts: Iterable[str], *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.hosts = tuple(hosts)
        self._ssl = ssl_context
        self._keys: collections.OrderedDict[str, rsa.RSAPublicKey] = collections.OrderedDict()
        self._fetching: dict[str, asyncio.Future[rsa.RSAPublicKey]] = {}
        self._session: aiohttp.ClientSession | None = None

    def trusted(self, url: str) -> bool:
        """Whether ``url`` is https on a trusted host and names a ``.pem`` file."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme != "https" or not host or parts.username or parts.password:
            return False
        return parts.path.endswith(".pem") and any(_matches(p, host) for p in self.hosts)

    async def key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at ``url``: :class:`SnsRefused` if the URL is
        not trusted or holds no RSA certificate, :class:`CertificateUnavailable` if it
        cannot be fetched now."""
        if not self.trusted(url):
            raise SnsRefused(f"SigningCertURL {url[:200]!r} is not an https URL on a trusted host")
        found = self._keys.get(url)
        if found is not None:
            return found
        pending = self._fetching.get(url)
        if pending is None:  # one fetch per URL, whoever else waits for it
            pending = self._fetching[url] = asyncio.ensure_future(self._fetch(url))
            pending.add_done_callback(self._fetched)
        return await asyncio.shield(pending)

    def _fetched(self, done: asyncio.Future[rsa.RSAPublicKey]) -> None:
        """A fetch ended: the next message of this URL finds its key kept, or fetches
        again (a failure is not kept); its outcome is seen even if no one waits now."""
        for url, pending in list(self._fetching.items()):
            if pending is done:
                del self._fetching[url]
        if not done.cancelled():
            done.exception()

    async def _fetch(self, url: str) -> rsa.RSAPublicKey:
        pem = await self._download(url)
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            raise SnsRefused("SigningCertURL holds no PEM certificate") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsRefused("the signing certificate's key is not RSA")
        self._keys[url] = key
        while len(self._keys) > KEPT_CERTIFICATES:
            self._keys.popitem(last=False)
        return key

    async def _download(self, url: str) -> bytes:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.get(url, allow_redirects=False, ssl=self._ssl or True) as r:
                if r.status != 200:
                    raise CertificateUnavailable(f"SigningCertURL answered {r.status}")
                body = await r.content.read(MAX_CERTIFICATE_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CertificateUnavailable(f"SigningCertURL unreachable: {exc}") from None
        if len(body) > MAX_CERTIFICATE_BYTES:
            raise SnsRefused(f"the signing certificate exceeds {MAX_CERTIFICATE_BYTES} bytes")
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def open_envelope(
    envelope: Mapping[str, Any], certificates: SnsCertificates
) -> tuple[bytes, dict[str, str]]:
    """The message of a verified ``Notification`` envelope and the headers to store it with.

    :class:`SnsRefused` when the signature does not verify, or the envelope is a
    subscription's confirmation; :class:`CertificateUnavailable` to try again later.
    """
    kind = str(envelope.get("Type"))
    version = envelope.get("SignatureVersion")
    algorithm = _HASHES.get(str(version))
    if algorithm is None:
        raise SnsRefused(f"SNS SignatureVersion {str(version)[:20]!r} is not 1 or 2")
    signed = _signed_bytes(envelope, _SIGNED[kind])
    signature = _signature(envelope.get("Signature"))
    key = await certificates.key(str(envelope.get("SigningCertURL", "")))
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsRefused("the SNS signature does not verify") from None
    topic = str(envelope["TopicArn"])
    if kind != "Notification":
        raise SnsRefused(
            f"SNS {kind} for topic {topic[:200]}: not a notification (a subscription is "
            "confirmed by its owner, never by the gateway)"
        )
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise SnsRefused("the SNS envelope has no Message")
    headers = dict(zip(SNS_HEADERS, (str(envelope["MessageId"]), topic), strict=True))
    return message.encode(), headers


def _signed_bytes(envelope: Mapping[str, Any], names: tuple[str, ...]) -> bytes:
    """What SNS signed: ``name\\nvalue\\n`` for each field present, in SNS's order."""
    parts = []
    for name in names:
        value = envelope.get(name)
        if value is None:
            if name == "Subject":  # the one optional field
                continue
            raise SnsRefused(f"the SNS envelope has no {name}")
        if not isinstance(value, str):
            raise SnsRefused(f"the SNS envelope's {name} is not text")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


def _signature(value: object) -> bytes:
    if not isinstance(value, str) or not value:
        raise SnsRefused("the SNS envelope has no Signature")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SnsRefused("the SNS Signature is not base64") from None


def _matches(pattern: str, host: str) -> bool:
    """``*`` in ``pattern`` stands for exactly one DNS label; the rest matches as is."""
    wanted = pattern.lower().split(".")
    labels = host.lower().rstrip(".").split(".")
    if len(wanted) != len(labels):
        return False
    return all(
        _LABEL.match(label) if want == "*" else want == label
        for want, label in zip(wanted, labels, strict=True)
    )
