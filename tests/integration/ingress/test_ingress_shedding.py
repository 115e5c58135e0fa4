"""While the gateway is overloaded, a webhook gets 503 + Retry-After before anything else
is done with it: no check, no read, no store; other routes and the next webhooks after
the overload are served as usual."""

from __future__ import annotations

from gateway.config import SourceConfig
from gateway.ingress.intake import UNKNOWN_SOURCE
from gateway.ingress.looplag import LoopLag
from tests.integration.ingress.conftest import StartIngress
from tests.integration.ingress.harness import Ingress, raw_exchange

JSON = {"Content-Type": "application/json"}


def late_loop(gateway: Ingress) -> LoopLag:
    """A loop-lag reading that says the loop runs a second late (never started: no timer)."""
    lag = LoopLag(threshold=0.2)
    lag.lag = 1.0
    gateway.state.lag = lag
    return lag


async def test_an_overloaded_gateway_answers_503_before_checking_the_signature(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="shop", scheme="shopify", secret="s3cret"))
    late_loop(gateway)

    answer = await gateway.post("shop", b"{}", JSON)  # unsigned: a 401 had it been checked

    assert answer.status == 503, answer
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.body == {
        "type": "https://webhook-gateway.dev/problems/overloaded",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the gateway is saturated; retry later",
        "instance": "/webhooks/v1/shop",
    }
    assert gateway.counted("shop", "overloaded") == 1
    assert gateway.counted("shop", "signature-invalid") == 0
    assert await gateway.stored() == 0


async def test_a_refused_body_is_not_waited_for_and_its_connection_is_closed(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    late_loop(gateway)
    head = (
        b"POST /webhooks/v1/open HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )

    answer = await raw_exchange(gateway.port, head, [b"{"], wait=3.0)  # 999 bytes never come

    assert (answer.status, answer.closed) == (503, True)
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["connection"] == "close"
    assert await gateway.stored() == 0


async def test_webhooks_are_taken_again_once_the_loop_keeps_time(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    lag = late_loop(gateway)
    assert (await gateway.post("open", b"{}", JSON)).status == 503

    lag.lag = 0.0
    taken = await gateway.post("open", b"{}", JSON)

    assert taken.status == 202, taken
    assert await gateway.stored() == 1
    assert gateway.counted("open", "accepted") == 1


async def test_an_unknown_source_is_counted_as_unknown_while_shedding(
    start_ingress: StartIngress,
) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    late_loop(gateway)

    answer = await gateway.post("no-such-source", b"{}", JSON)

    assert answer.status == 503
    assert gateway.counted(UNKNOWN_SOURCE, "overloaded") == 1
    assert gateway.counted("no-such-source", "overloaded") == 0


async def test_health_probes_and_other_methods_are_not_shed(start_ingress: StartIngress) -> None:
    gateway = await start_ingress(SourceConfig(name="open", scheme="none"))
    late_loop(gateway)

    async with gateway.http.get(gateway.make_url("/healthz")) as health:
        assert health.status == 200
    assert (await gateway.post("open", method="GET")).status == 405
