"""The optional libraries a broker kind needs, imported only where a broker is used.

A plain HTTP install has neither: ``pip install 'webhook-gateway[rabbitmq]'`` brings
aio-pika, ``[sqs]`` aiobotocore. A config file that declares a broker whose library is
missing is refused at start, naming the broker's key and the command that installs it.
"""

from __future__ import annotations

import importlib

from gateway.brokers.config import Broker, BrokerKind
from gateway.domain.validation import Invalid

__all__ = ["check_extras", "missing_extra"]

# kind -> (module, the distribution that ships it, the gateway's extra that installs it)
_EXTRAS: dict[BrokerKind, tuple[str, str, str]] = {
    "amqp": ("aio_pika", "aio-pika", "rabbitmq"),
    "sqs": ("aiobotocore", "aiobotocore", "sqs"),
}


def missing_extra(kind: BrokerKind) -> str | None:
    """Why brokers of ``kind`` cannot be used here (their library is not installed), or
    ``None`` when they can."""
    module, package, extra = _EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError:
        return (
            f"{kind} brokers need {package}, which is not installed:"
            f" pip install 'webhook-gateway[{extra}]'"
        )
    return None


def check_extras(brokers: tuple[Broker, ...]) -> None:
    """:class:`Invalid` at ``brokers[i].kind`` for the first broker whose library is
    missing."""
    for i, broker in enumerate(brokers):
        reason = missing_extra(broker.kind)
        if reason is not None:
            raise Invalid(f"brokers[{i}].kind", reason)
