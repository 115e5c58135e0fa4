"""Scheme ``amazon-sp-api``: Amazon Selling Partner API notifications, read from a queue.

Amazon posts no webhooks: it puts each notification on an SQS queue (directly, or through
EventBridge and SNS). A notification is JSON: ``notificationType``, ``payload`` and
``notificationMetadata`` {``applicationId``, ``subscriptionId``, ``publishTime``,
``notificationId``}; older ones spell the same keys in PascalCase (``NotificationType``,
``NotificationMetadata.NotificationId``). Both are read.

:func:`unwrap` takes a message as it comes off the queue: an SNS envelope is verified
and opened (gateway/ingress/sns.py), an EventBridge event gives its ``detail``; the
notification is what is stored, with its type, id, subscription and application in
headers of their own (``sp-api-…``), which the preset reads the event's type and id from
and which filters and the API see. Its id is the event id, so a notification Amazon
sends twice is stored once.

There is no signature of the sender's own to check, and so no secret: who may put a
message on the queue is the queue's access policy; an SNS envelope carries SNS's
signature, checked as it is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.config import SourceConfig
from gateway.ingress.schemes.common import Preset
from gateway.ingress.schemes.none import AcceptAll
from gateway.ingress.sns import SNS_HEADERS, SnsCertificates, is_envelope, open_envelope

__all__ = [
    "APPLICATION_ID",
    "NOTIFICATION_ID",
    "NOTIFICATION_TYPE",
    "PRESET",
    "SUBSCRIPTION_ID",
    "NotANotification",
    "build",
    "unwrap",
]

NOTIFICATION_ID = "sp-api-notification-id"
NOTIFICATION_TYPE = "sp-api-notification-type"
SUBSCRIPTION_ID = "sp-api-subscription-id"
APPLICATION_ID = "sp-api-application-id"
PUBLISH_TIME = "sp-api-publish-time"
_OURS = (NOTIFICATION_ID, NOTIFICATION_TYPE, SUBSCRIPTION_ID, APPLICATION_ID, PUBLISH_TIME)
_METADATA = {
    NOTIFICATION_ID: "notificationId",
    SUBSCRIPTION_ID: "subscriptionId",
    APPLICATION_ID: "applicationId",
    PUBLISH_TIME: "publishTime",
}

PRESET = Preset(event_id=NOTIFICATION_ID, event_type=NOTIFICATION_TYPE)


class NotANotification(ValueError):
    """The message is no SP-API notification, and never will be: a poison message."""


def build(source: SourceConfig) -> AcceptAll:
    """Nothing to verify per message beyond :func:`unwrap`'s SNS signature (see above)."""
    return AcceptAll()


async def unwrap(
    headers: Mapping[str, str], body: bytes, certificates: SnsCertificates
) -> tuple[dict[str, str], bytes]:
    """The notification in ``body`` and the headers to store it with: an SNS envelope
    verified and opened, an EventBridge event's ``detail`` taken, the notification's
    type, id, subscription and application added as ``sp-api-…`` headers (a message's
    own headers of those names are dropped: only the notification says them).

    Raises :class:`NotANotification`, or gateway.ingress.sns's ``SnsRefused`` and
    ``CertificateUnavailable``.
    """
    kept = {k: v for k, v in headers.items() if k.lower() not in (*_OURS, *SNS_HEADERS)}
    document = _json(body)
    if is_envelope(document):
        body, envelope_headers = await open_envelope(document, certificates)
        kept.update(envelope_headers)
        document = _json(body)
    detail = document.get("detail")
    if "detail-type" in document and isinstance(detail, dict):  # an EventBridge event
        document, body = detail, orjson.dumps(detail)
    kept.update(_fields(document))
    return kept, body


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NotANotification("the body is not JSON") from None
    if not isinstance(document, dict):
        raise NotANotification("the body is not a JSON object")
    return document


def _fields(notification: Mapping[str, Any]) -> dict[str, str]:
    """The notification's type and metadata, each under either spelling."""
    found = {NOTIFICATION_TYPE: _either(notification, "notificationType")}
    metadata = _either(notification, "notificationMetadata")
    if isinstance(metadata, Mapping):
        found.update((header, _either(metadata, key)) for header, key in _METADATA.items())
    return {header: str(value) for header, value in found.items() if _scalar(value)}


def _either(document: Mapping[str, Any], camel: str) -> Any:
    """``camel`` (``notificationType``) or its PascalCase spelling (``NotificationType``)."""
    value = document.get(camel)
    return document.get(camel[0].upper() + camel[1:]) if value is None else value


def _scalar(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and value != ""
