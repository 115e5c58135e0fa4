"""An Amazon SQS client (aiobotocore), with the standard AWS credential chain.

Credentials are never in the config file: the environment, a profile, or the pod's IRSA
role, as every AWS SDK reads them. ``region`` and ``endpoint_url`` come from the broker's
table when it sets them. aiobotocore is imported only when a client is made (an optional
extra: gateway/brokers/extras.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gateway.brokers.config import SqsBroker

__all__ = ["client"]


@contextlib.asynccontextmanager
async def client(
    broker: SqsBroker, *, connect_timeout: float, read_timeout: float, max_connections: int
) -> AsyncIterator[Any]:
    """An SQS client for ``broker``, closed on exit. It tries each call once: the caller
    retries by its own policy."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_connections,
    )
    session = get_session()
    async with session.create_client(
        "sqs", region_name=broker.region, endpoint_url=broker.endpoint_url, config=config
    ) as sqs:
        yield sqs
