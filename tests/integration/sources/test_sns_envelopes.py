"""SNS envelopes (EventBridge → SNS → SQS): opened once their signature verifies under the
certificate at a trusted https host; refused otherwise, as poison."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from gateway.brokers.config import SqsBroker
from gateway.config import IngressConfig, SourceConfig
from gateway.domain.receive import SqsReceive
from gateway.ingress.sns import SnsCertificates, SnsRefused, open_envelope
from gateway.store.events import get_event
from testkit.amazon import CertificateHost, SnsSigner, sp_api_notification
from testkit.polling import until
from tests.integration.sources.conftest import Reading

NOTIFICATION = sp_api_notification("n-sns")


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    return SnsSigner()


@pytest.fixture
async def host(signer: SnsSigner) -> AsyncIterator[CertificateHost]:
    served = await CertificateHost(signer.pem).start()
    yield served
    await served.stop()


@pytest.fixture
async def certificates(host: CertificateHost) -> AsyncIterator[SnsCertificates]:
    """Certificates from the loopback host, trusted as Amazon's SNS hosts are by default."""
    kept = SnsCertificates(("127.0.0.1",), ssl_context=host.client_context)
    yield kept
    await kept.close()


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_signed_notification_is_opened_and_its_certificate_fetched_once(
    signer: SnsSigner, host: CertificateHost, certificates: SnsCertificates, version: str
) -> None:
    for _ in range(3):
        envelope = signer.envelope(NOTIFICATION, host.cert_url, version=version)
        body, headers = await open_envelope(envelope, certificates)
        assert body == NOTIFICATION
        assert headers == {
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": envelope["TopicArn"],
        }
    assert host.fetches == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Message": sp_api_notification("n-forged")}, "does not verify"),
        ({"TopicArn": "arn:aws:sns:eu-central-1:999999999999:other"}, "does not verify"),
        ({"Signature": "AAAA"}, "does not verify"),
        ({"Signature": "not base64!"}, "not base64"),
        ({"SignatureVersion": "3"}, "not 1 or 2"),
    ],
)
async def test_an_envelope_whose_signature_does_not_verify_is_refused(
    signer: SnsSigner,
    host: CertificateHost,
    certificates: SnsCertificates,
    change: dict[str, Any],
    reason: str,
) -> None:
    envelope = signer.envelope(NOTIFICATION, host.cert_url)
    envelope.update({k: v.decode() if isinstance(v, bytes) else v for k, v in change.items()})
    with pytest.raises(SnsRefused, match=reason):
        await open_envelope(envelope, certificates)


async def test_a_certificate_url_on_a_host_not_trusted_is_refused_without_fetching(
    signer: SnsSigner, host: CertificateHost
) -> None:
    others = SnsCertificates(("sns.*.amazonaws.com",), ssl_context=host.client_context)
    for url in (host.cert_url, host.cert_url.replace("https:", "http:")):
        with pytest.raises(SnsRefused, match="not an https URL on a trusted host"):
            await open_envelope(signer.envelope(NOTIFICATION, url), others)
    assert host.fetches == 0


async def test_by_default_only_amazons_sns_hosts_are_trusted(
    signer: SnsSigner, host: CertificateHost
) -> None:
    default = SnsCertificates(IngressConfig().sns_certificate_hosts)
    with pytest.raises(SnsRefused, match="trusted host"):
        await open_envelope(signer.envelope(NOTIFICATION, host.cert_url), default)
    assert host.fetches == 0
    for url in (
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ):
        assert default.trusted(url), url
    for url in (
        "http://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-central-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/sns.eu-central-1.amazonaws.com/a.pem",
        "https://sns.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sqs.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.txt",
        "https://user@sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ):
        assert not default.trusted(url), url


async def test_a_subscription_confirmation_is_refused_and_never_confirmed(
    signer: SnsSigner, host: CertificateHost, certificates: SnsCertificates
) -> None:
    envelope = signer.envelope(b"confirm", host.cert_url, kind="SubscriptionConfirmation")
    with pytest.raises(SnsRefused, match="confirmed by its owner"):
        await open_envelope(envelope, certificates)


async def test_an_sns_wrapped_notification_on_sqs_is_stored_and_a_forged_one_is_poison(
    signer: SnsSigner,
    host: CertificateHost,
    certificates: SnsCertificates,
    sqs: Any,
    queue_name: str,
    sqs_broker: SqsBroker,
    reading: Callable[..., Reading],
) -> None:
    url = (await sqs.create_queue(QueueName=queue_name))["QueueUrl"]
    good = signer.envelope(NOTIFICATION, host.cert_url, version="2")
    forged = {**good, "Message": sp_api_notification("n-forged").decode()}
    for envelope in (forged, good):
        await sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(envelope).decode())
    source = SourceConfig(
        name="amazon",
        scheme="amazon-sp-api",
        receive=SqsReceive(broker="aws", queue_url=url, wait_seconds=1),
    )
    gateway = await reading((source,), (sqs_broker,), certificates=certificates).start()

    await until(lambda: gateway.status("amazon").stored == 1, 20, what="the signed one")
    await until(lambda: gateway.status("amazon").poison >= 1, 20, what="the forged one")
    assert "does not verify" in gateway.status("amazon").recent_poison[0].reason
    (event,) = await gateway.events("amazon")
    stored = await get_event(gateway.db, event.id)
    assert (stored.external_id, stored.event_type, stored.body) == (
        "n-sns",
        "ORDER_CHANGE",
        NOTIFICATION,
    )
    assert stored.headers["x-amz-sns-topic-arn"] == good["TopicArn"]
