"""The load generator: signed webhooks like a sender's, and a ledger of every answer.

A sender event is retried, as Shopify retries, while the gateway answers 503 or does
not answer at all; the first 2xx is the acknowledgement the checker holds the gateway
to. Every answer is kept (status, Retry-After, event id, send and answer times), so a
scenario can ask what the gateway said while its fault was on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time

import aiohttp
import orjson

from testkit.polling import became
from testkit.senders import shopify

SHOP_SECRET = "chaos-shop-secret-" + "s" * 24
SOURCE = "shop"
TOPICS = ("orders/create", "orders/updated", "products/update")


def topic_of(n: int) -> str:
    return TOPICS[n % len(TOPICS)]


def event_body(sender_id: str, n: int, topic: str) -> bytes:
    return orjson.dumps({"sender_id": sender_id, "n": n, "topic": topic, "pad": "x" * 200})


@dataclasses.dataclass(slots=True)
class Answer:
    sender_id: str
    target: str
    sent_at: float  # time.monotonic()
    answered_at: float
    status: int | None  # None: no answer (refused, reset, timed out)
    retry_after: str | None = None
    event_id: str | None = None
    duplicate: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclasses.dataclass
class Ledger:
    """Everything the gateway answered; ``acked`` maps a sender event id to its event id."""

    answers: list[Answer] = dataclasses.field(default_factory=list)
    acked: dict[str, str] = dataclasses.field(default_factory=dict)
    acked_at: dict[str, float] = dataclasses.field(default_factory=dict)
    topics: dict[str, str] = dataclasses.field(default_factory=dict)
    conflicts: list[str] = dataclasses.field(default_factory=list)
    refused: list[Answer] = dataclasses.field(default_factory=list)  # 4xx to a valid event

    def record(self, answer: Answer) -> None:
        self.answers.append(answer)
        if answer.ok and answer.event_id is not None:
            first = self.acked.setdefault(answer.sender_id, answer.event_id)
            self.acked_at.setdefault(answer.sender_id, answer.answered_at)
            if first != answer.event_id:
                self.conflicts.append(
                    f"{answer.sender_id}: acknowledged as {first} and as {answer.event_id}"
                )
        elif answer.status is not None and 400 <= answer.status < 500:
            self.refused.append(answer)

    def acks_since(self, since: float) -> int:
        return sum(1 for at in self.acked_at.values() if at >= since)

    def first_ack_after(self, since: float) -> float | None:
        return min((at for at in self.acked_at.values() if at >= since), default=None)

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for answer in self.answers:
            key = str(answer.status) if answer.status is not None else "no answer"
            counts[key] = counts.get(key, 0) + 1
        return counts


class Sender:
    """Posts signed events to one of ``targets`` (ingress base URLs), retrying like a sender."""

    def __init__(
        self,
        ledger: Ledger,
        targets: list[str],
        *,
        connections: int,
        attempts: int = 40,
        timeout: float = 15.0,
    ) -> None:
        self.ledger = ledger
        self.targets = targets
        self.attempts = attempts
        self.timeout = timeout
        self.stopping = False
        self._session: aiohttp.ClientSession | None = None
        self._connections = connections

    async def __aenter__(self) -> Sender:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sender_id: str, n: int, *, topic: str | None = None) -> bool:
        """Send one sender event until it is acknowledged (or attempts run out)."""
        topic = topic or topic_of(n)
        self.ledger.topics[sender_id] = topic
        body = event_body(sender_id, n, topic)
        headers = shopify(SHOP_SECRET, body, sender_id, topic)
        delay = 0.05
        for attempt in range(self.attempts):
            target = self.targets[(n + attempt) % len(self.targets)]
            answer = await self._post(target, sender_id, body, headers)
            self.ledger.record(answer)
            if answer.ok:
                return True
            if answer.status is not None and answer.status not in (429, 503):
                return False  # refused for good: the checker reports it
            if self.stopping:
                return False
            wait = delay
            if answer.retry_after is not None:
                with contextlib.suppress(ValueError):
                    wait = min(max(float(answer.retry_after), delay), 0.5)
            await asyncio.sleep(wait)
            delay = min(delay * 1.5, 0.5)
        return False

    async def _post(
        self, target: str, sender_id: str, body: bytes, headers: dict[str, str]
    ) -> Answer:
        assert self._session is not None
        sent = time.monotonic()
        url = f"{target}/webhooks/v1/{SOURCE}"
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                answer = Answer(
                    sender_id,
                    target,
                    sent,
                    time.monotonic(),
                    response.status,
                    retry_after=response.headers.get("Retry-After"),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Answer(sender_id, target, sent, time.monotonic(), None, error=repr(exc)[:200])
        if answer.ok:
            try:
                document = orjson.loads(payload)
                answer.event_id = document["event_id"]
                answer.duplicate = document["duplicate"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                answer.error = f"2xx without an event id: {payload[:200]!r}"
                answer.event_id = None
        return answer


class Load:
    """Offers ``rate`` events a second through ``senders`` concurrent workers until stopped."""

    def __init__(
        self, sender: Sender, prefix: str, *, rate: float, senders: int, start: int = 0
    ) -> None:
        self.sender = sender
        self.prefix = prefix
        self.rate = rate
        self.workers = senders
        self._numbers = itertools.count(start)
        self._tasks: list[asyncio.Task[None]] = []
        self._began = 0.0
        self.sent = 0

    def start(self) -> Load:
        self._began = time.monotonic()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        return self

    async def stop(self, limit: float = 30.0) -> None:
        """Stop offering new events; let the ones in hand finish (bounded)."""
        self.sender.stopping = True
        done, pending = await asyncio.wait(self._tasks, timeout=limit)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _work(self) -> None:
        while not self.sender.stopping:
            n = next(self._numbers)
            due = self._began + n / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.sender.stopping:
                return
            self.sent += 1
            await self.sender.send(f"{self.prefix}-{n}", n)


class NoAcknowledgements(Exception):
    """The gateway acknowledged nothing (or too little) for too long."""


async def wait_for_acks(ledger: Ledger, count: int, since: float, limit: float) -> None:
    """Wait until ``count`` events were acknowledged after ``since`` (bounded by ``limit``).

    Raises :class:`NoAcknowledgements`, naming what the gateway answered meanwhile.
    """
    if await became(lambda: ledger.acks_since(since) >= count, limit, 0.02):
        return
    answered: dict[str, int] = {}
    for a in ledger.answers:
        if a.answered_at >= since:
            key = str(a.status) if a.status is not None else (a.error or "?")[:60]
            answered[key] = answered.get(key, 0) + 1
    raise NoAcknowledgements(
        f"{ledger.acks_since(since)} of {count} acknowledgements within {limit:g} s;"
        f" answers meanwhile: {answered}"
    )
