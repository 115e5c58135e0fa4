"""An SQS client for a broker of kind ``sqs``, through aiobotocore.

Credentials come from the standard AWS chain (environment, shared profile, the pod's
IRSA role), never from the config file; the region from the broker, else the chain's.
aiobotocore is imported here only, when a client is made: it is an optional extra.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gateway.brokers.config import SqsBroker

__all__ = ["sqs_client", "sqs_errors"]

CONNECT_TIMEOUT_SECONDS = 5.0
# Beyond the longest long poll (20 s), so a receive that waits is not cut short.
READ_TIMEOUT_SECONDS = 40.0


def sqs_errors() -> tuple[type[Exception], ...]:
    """What a call to SQS raises when it fails: a refusal by SQS (an unknown queue, a
    missing permission), or no answer (the network, a timeout)."""
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError as Refused

    return (Refused, BotoCoreError)


@contextlib.asynccontextmanager
async def sqs_client(broker: SqsBroker, *, connections: int = 10) -> AsyncIterator[Any]:
    """A client of ``broker``'s SQS with up to ``connections`` requests at once."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        max_pool_connections=connections,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
    )
    async with get_session().create_client(
        "sqs", region_name=broker.region, endpoint_url=broker.endpoint_url, config=config
    ) as client:
        yield client
