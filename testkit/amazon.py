"""Amazon as the tests play it: SP-API notifications, SNS envelopes signed as SNS signs
them, and a loopback https host serving the signing certificate.

The envelope's signature is real RSA (SHA1 for SignatureVersion 1, SHA256 for 2) over
SNS's fields in SNS's order, under a key whose self-signed certificate the
:class:`CertificateHost` serves over TLS (its own CA, from trustme): the gateway checks
it exactly as it checks one from ``sns.<region>.amazonaws.com``, once told to trust the
loopback host and that CA.
"""

from __future__ import annotations

import base64
import datetime
import ssl
import uuid
from typing import Any

import orjson
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from testkit.sinks import listen

__all__ = ["CertificateHost", "SnsSigner", "sp_api_notification"]

CERT_PATH = "/SimpleNotificationService-test.pem"


def sp_api_notification(
    notification_id: str,
    notification_type: str = "ORDER_CHANGE",
    *,
    pascal: bool = False,
    order_id: str = "902-1845936-5435065",
) -> bytes:
    """An SP-API notification as Amazon puts it on the queue: camelCase, or the older
    PascalCase spelling."""
    document = {
        "notificationVersion": "1.0",
        "notificationType": notification_type,
        "payloadVersion": "1.0",
        "eventTime": "2026-12-01T10:00:00.000Z",
        "payload": {"OrderChangeNotification": {"AmazonOrderId": order_id}},
        "notificationMetadata": {
            "applicationId": "amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5",
            "subscriptionId": "93b098e1-c42-2f45-93a1-78910a6a8369",
            "publishTime": "2026-12-01T10:00:01.000Z",
            "notificationId": notification_id,
        },
    }
    if pascal:
        document = _pascal(document)
    return orjson.dumps(document)


def _pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[0].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    return value


class SnsSigner:
    """Signs SNS envelopes with a key of its own; its certificate is :attr:`pem`."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)

    def envelope(
        self,
        message: bytes,
        cert_url: str,
        *,
        version: str = "1",
        kind: str = "Notification",
        topic: str = "arn:aws:sns:eu-central-1:123456789012:sp-api",
    ) -> dict[str, str]:
        """``message`` in a signed envelope of ``kind`` (a subscription confirmation
        carries a token and a SubscribeURL instead of a subject)."""
        envelope = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": message.decode(),
            "Timestamp": "2026-12-01T10:00:02.000Z",
            "SignatureVersion": version,
            "SigningCertURL": cert_url,
        }
        if kind == "Notification":
            envelope["Subject"] = "SP-API notification"
            names = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        else:
            envelope["Token"] = "2336412f37fb687f5d51e6e2425c464de12884a4"
            envelope["SubscribeURL"] = "https://sns.eu-central-1.amazonaws.com/?Action=Confirm"
            names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn")
            names = (*names, "Type")
        signed = "".join(f"{n}\n{envelope[n]}\n" for n in names).encode()
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS's v1
        signature = self.key.sign(signed, padding.PKCS1v15(), digest)
        envelope["Signature"] = base64.b64encode(signature).decode()
        return envelope


class CertificateHost:
    """An https server on 127.0.0.1 serving a signer's certificate; counts the fetches.

    ``client_context`` trusts its TLS certificate; ``ca_file`` is that CA for a gateway
    in a subprocess (``SSL_CERT_FILE``).
    """

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.fetches = 0
        self.ca = trustme.CA()
        self._server_cert = self.ca.issue_cert("127.0.0.1")
        self.client_context = ssl.create_default_context()
        self.ca.configure_trust(self.client_context)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def cert_url(self) -> str:
        return f"https://127.0.0.1:{self.port}{CERT_PATH}"

    def write_ca(self, path: str) -> str:
        self.ca.cert_pem.write_to_path(path)
        return path

    async def start(self) -> CertificateHost:
        async def serve(_: web.Request) -> web.Response:
            self.fetches += 1
            return web.Response(body=self.pem, content_type="application/x-pem-file")

        app = web.Application()
        app.router.add_get(CERT_PATH, serve)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        self._runner = web.AppRunner(app, access_log=None)
        self.port = await listen(self._runner, ssl_context=context)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
