"""The SP-API preset: a notification's type, id, subscription and application read in
either spelling, from the notification itself or from an EventBridge event's detail."""

from __future__ import annotations

import orjson
import pytest

from gateway.config import SourceConfig
from gateway.domain.receive import SqsReceive
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.schemes.amazon_sp_api import NotANotification, unwrap
from gateway.ingress.sns import SnsCertificates
from testkit.amazon import sp_api_notification

NO_CERTIFICATES = SnsCertificates(())
EXPECTED = {
    "sp-api-notification-type": "ORDER_CHANGE",
    "sp-api-notification-id": "n-1",
    "sp-api-subscription-id": "93b098e1-c42-2f45-93a1-78910a6a8369",
    "sp-api-application-id": "amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5",
    "sp-api-publish-time": "2026-12-01T10:00:01.000Z",
}


@pytest.mark.parametrize("pascal", [False, True])
async def test_either_spelling_gives_the_same_headers_and_the_body_as_sent(pascal: bool) -> None:
    body = sp_api_notification("n-1", pascal=pascal)
    headers, kept = await unwrap({"x-other": "1"}, body, NO_CERTIFICATES)
    assert headers == {"x-other": "1", **EXPECTED}
    assert kept == body


async def test_an_eventbridge_event_gives_its_detail() -> None:
    detail = orjson.loads(sp_api_notification("n-1", pascal=True))
    event = {
        "version": "0",
        "detail-type": "ORDER_CHANGE",
        "source": "aws.partner/x",
        "detail": detail,
    }
    headers, body = await unwrap({}, orjson.dumps(event), NO_CERTIFICATES)
    assert headers == EXPECTED
    assert orjson.loads(body) == detail


@pytest.mark.parametrize("body", [b"<xml/>", b"[1, 2]", b'"text"'])
async def test_what_is_no_json_object_is_no_notification(body: bytes) -> None:
    with pytest.raises(NotANotification):
        await unwrap({}, body, NO_CERTIFICATES)


def test_the_preset_reads_the_event_id_and_type_from_the_notification_headers() -> None:
    receive = SqsReceive(broker="aws", queue_url="https://sqs.example/1/q")
    source = apply_preset(SourceConfig(name="amazon", scheme="amazon-sp-api", receive=receive))
    assert (source.event_id, source.event_type) == (
        "sp-api-notification-id",
        "sp-api-notification-type",
    )
    build_verifier(source).verify({}, b"{}", 0.0)  # nothing of the sender's own to check
