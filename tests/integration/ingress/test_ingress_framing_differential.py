"""What the ingress answers from a request's bytes, it answers as aiohttp would: a
differential test over real sockets, aiohttp's own request path the judge.

Every case of the matrix (framing_matrix.py, 200 byte sequences) is written on a new
connection to each of these, each its own listener on loopback, all on one database:

- ``aiohttp``: the ingress app with no early answers (``GuardedRunner``, nothing shown
  the bytes first): aiohttp's parser splits the bytes into requests, answers 400 and
  closes for what it refuses, and the app answers the rest. The oracle.
- ``fast``: as ``serve`` serves the ingress (``early_answers``: the fast path and the
  overload refusal before aiohttp);
- ``refusal``: as ``serve`` with ``fast_path = false`` (the overload refusal alone);

under normal load, and overloaded (the loop-lag reading says the loop runs a second
late). For each case, what comes back -- every answer (status, headers but the date,
body but the new event ids), whether the server closed the connection, and which of the
case's requests were stored -- must be what the oracle gave under the same load. So
neither early path may answer what aiohttp refuses, keep open a connection it closes,
store what it does not, or split the bytes into other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chaos.framing import read
from gateway.config import Config, IngressConfig, SourceConfig, WriterConfig
from gateway.http.acceptor import GreedySite
from gateway.ingress.early import AnswerEarly
from gateway.ingress.intake import Intake
from gateway.ingress.looplag import LoopLag
from gateway.ingress.slowclients import GuardedRunner
from gateway.ingress.source import build_sources
from gateway.ingress.writer import GroupCommitWriter
from gateway.observability import Metrics
from gateway.runtime import early_answers
from gateway.runtime.apps import build_ingress_app
from gateway.store.database import Database
from testkit.polling import until
from testkit.postgres import PostgresForTests, with_database
from tests.integration.ingress.framing_matrix import CATEGORIES, MATRIX, MAX_BODY, Case

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

OPEN = SourceConfig(name="open", scheme="none", event_id="X-Event-Id")
ORACLE_IDLE = 0.6  # seconds without a byte after which the oracle's connection is done
SETTLE = 0.25  # seconds to wait past the oracle's last answer for more, or a close
AT_ONCE = 16  # connections open at the same time
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
_NEW_ID = re.compile(rb"evt_[0-9A-Za-z_-]+")
_CASE_ID = re.compile(rb"[a-z]\d{3}-\d{2}")


@dataclasses.dataclass(frozen=True)
class Seen:
    """What a listener gave back for one case."""

    answers: tuple[tuple[int, tuple[tuple[str, str], ...], bytes], ...]
    closed: bool
    stored: frozenset[int] = frozenset()

    def __str__(self) -> str:
        statuses = [status for status, _, _ in self.answers]
        return f"{statuses} {'closed' if self.closed else 'open'} stored {sorted(self.stored)}"


@dataclasses.dataclass
class Listener:
    run: str  # one letter, in the event ids of the requests it is sent
    state: Intake
    runner: GuardedRunner
    port: int = 0

    @property
    def parsed_by_aiohttp(self) -> int:
        assert self.runner.server is not None
        return int(self.runner.server.requests_count)


Outcomes = dict[str, dict[int, Seen]]  # by listener, by case number

LISTENERS = {  # name: (run letter, early answers, overloaded)
    "aiohttp": ("a", None, False),
    "aiohttp overloaded": ("b", None, True),
    "fast": ("f", "fast", False),
    "fast overloaded": ("g", "fast", True),
    "refusal overloaded": ("r", "refusal", True),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def database(pg_server: PostgresForTests) -> AsyncIterator[Database]:
    name = await asyncio.to_thread(pg_server.create_database)
    db = await Database.connect(with_database(pg_server.url, name), min_size=1, max_size=4)
    yield db
    await db.close()
    await asyncio.to_thread(pg_server.drop_database, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outcomes(database: Database) -> AsyncIterator[tuple[Outcomes, dict[str, Listener]]]:
    """Every case sent to every listener; what each gave back."""
    writer = GroupCommitWriter(database, WriterConfig(batch_wait_ms=0, shed_after_ms=0), Metrics())
    writer.start()
    listeners = {name: _listener(writer, *spec) for name, spec in LISTENERS.items()}
    try:
        for listener in listeners.values():
            await listener.runner.setup()
            site = GreedySite(listener.runner, "127.0.0.1", 0)
            await site.start()
            listener.port = site.port
        seen = await _run_matrix(listeners)
        await _until_idle(listeners)
        stored = await _stored(database)
        for name, listener in listeners.items():
            for number, one in seen[name].items():
                seen[name][number] = dataclasses.replace(
                    one, stored=stored.get((listener.run, number), frozenset())
                )
        yield seen, listeners
    finally:
        for listener in listeners.values():
            await listener.runner.cleanup()
        await writer.close()


def _listener(writer: GroupCommitWriter, run: str, early: str | None, overloaded: bool) -> Listener:
    config = IngressConfig(max_body_bytes=MAX_BODY, fast_path=early == "fast")
    state = Intake(config, build_sources(Config(sources=(OPEN,))), writer, Metrics())
    if overloaded:
        lag = LoopLag(threshold=0.2)
        lag.lag = 1.0
        state.lag = lag
    answer_early: AnswerEarly | None = None if early is None else early_answers(state)
    runner = GuardedRunner(
        build_ingress_app(state),
        header_timeout=config.header_timeout_seconds,
        keepalive_timeout=config.keepalive_timeout_seconds,
        answer_early=answer_early,
        access_log=None,
        shutdown_timeout=1.0,
    )
    return Listener(run, state, runner)


async def _run_matrix(listeners: dict[str, Listener]) -> Outcomes:
    """The oracle first (it says how many answers to wait for), then the others."""
    gate = asyncio.Semaphore(AT_ONCE)
    seen: Outcomes = {name: {} for name in listeners}

    async def one(name: str, number: int, case: Case, expect: Seen | None) -> None:
        listener = listeners[name]
        async with gate:
            chunks = case.bytes_for(listener.run, number)
            seen[name][number] = await exchange(listener.port, chunks, expect)

    oracles = [name for name in listeners if name.startswith("aiohttp")]
    await asyncio.gather(
        *(one(name, n, case, None) for name in oracles for n, case in enumerate(MATRIX))
    )
    await asyncio.gather(
        *(
            one(name, n, case, seen[_oracle(name)][n])
            for name in listeners
            if name not in oracles
            for n, case in enumerate(MATRIX)
        )
    )
    return seen


def _oracle(name: str) -> str:
    return "aiohttp overloaded" if name.endswith("overloaded") else "aiohttp"


async def exchange(port: int, chunks: tuple[bytes, ...], expect: Seen | None) -> Seen:
    """Write ``chunks`` on a new connection; read answers until the server closes it or
    sends nothing more: given the oracle's ``expect``, for ``SETTLE`` seconds once as
    many answers came as the oracle gave; else for ``ORACLE_IDLE`` seconds once as many
    came as aiohttp's parser says there are requests to answer at least."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    least = _least_answers(b"".join(chunks)) if expect is None else len(expect.answers)
    data, closed = b"", False
    try:
        for i, chunk in enumerate(chunks):
            if i:
                await asyncio.sleep(0.05)  # a chunk of its own for the server
            writer.write(chunk)
            await writer.drain()
        while True:
            done = len(_answers(data)) >= least
            idle = 5.0 if not done else ORACLE_IDLE if expect is None else SETTLE
            try:
                async with asyncio.timeout(idle):
                    more = await reader.read(65536)
            except TimeoutError:
                break
            if not more:
                closed = True
                break
            data += more
    except ConnectionError:
        closed = True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return Seen(tuple(_answers(data)), closed)


def _least_answers(data: bytes) -> int:
    """Requests aiohttp answers at least, as its parser splits ``data``: each whole one up
    to the first that closes the connection, and a 400 for what it cannot parse."""
    reading = read(data)
    count = 0
    for message in reading.messages:
        if not message.complete:
            return count
        count += 1
        if not (message.keeps_open and message.plain_framing):
            return count
    return count + (reading.error is not None)


def _answers(data: bytes) -> list[tuple[int, tuple[tuple[str, str], ...], bytes]]:
    """The answers in ``data`` (whole ones): status, headers (less the date, in any
    order), body with any new event id or case id blanked out."""
    answers = []
    while (end := data.find(b"\r\n\r\n")) >= 0:
        head, rest = data[:end], data[end + 4 :]
        lines = head.decode("latin-1").split("\r\n")
        matched = _STATUS.match(data)
        status = int(matched[1]) if matched else 0
        fields = tuple(
            sorted(
                (name.strip().lower(), value.strip())
                for name, _, value in (line.partition(":") for line in lines[1:])
                if name.strip().lower() != "date"
            )
        )
        length = 0 if status < 200 else int(dict(fields).get("content-length", "0"))
        if len(rest) < length:
            break
        body = _CASE_ID.sub(b"ID", _NEW_ID.sub(b"evt_", rest[:length]))
        answers.append((status, fields, body))
        data = rest[length:]
    return answers


async def _until_idle(listeners: dict[str, Listener]) -> None:
    await until(lambda: not any(one.state.active for one in listeners.values()), 10, 0.02)


async def _stored(db: Database) -> dict[tuple[str, int], frozenset[int]]:
    """The requests stored, by run and case (read from their event ids)."""
    rows = await db.pool.fetch("SELECT external_id FROM events")
    found: dict[tuple[str, int], set[int]] = {}
    for row in rows:
        matched = re.fullmatch(r"([a-z])(\d{3})-(\d{2})", row["external_id"])
        if matched:
            key = (matched[1], int(matched[2]))
            found.setdefault(key, set()).add(int(matched[3]))
    return {key: frozenset(numbers) for key, numbers in found.items()}


def _differences(seen: Outcomes, name: str) -> list[str]:
    oracle = seen[_oracle(name)]
    return [
        f"{case.category} / {case.name}: aiohttp {oracle[n]!r}, {name} {seen[name][n]!r}"
        for n, case in enumerate(MATRIX)
        if seen[name][n] != oracle[n]
    ]


def _report(differences: list[str]) -> str:
    return f"{len(differences)} cases differ:\n" + "\n".join(differences)


async def test_the_matrix_covers_every_shape_with_cases_aiohttp_takes_and_refuses(
    outcomes: tuple[Outcomes, dict[str, Listener]],
) -> None:
    seen, _ = outcomes
    by_aiohttp = seen["aiohttp"].values()
    first_statuses = [one.answers[0][0] if one.answers else None for one in by_aiohttp]

    assert len(MATRIX) >= 150
    assert set(CATEGORIES) >= {
        "CL/TE", "obs-fold", "bare LF/CR", "control bytes", "sizes", "targets", "versions",
        "Expect", "pipelining", "Host", "repeated fields", "Connection", "plain",
    }  # fmt: skip
    assert first_statuses.count(400) >= 60  # aiohttp's parser refused these
    assert sum(bool(one.stored) for one in by_aiohttp) >= 40
    assert sum(one.closed for one in by_aiohttp) >= 60


async def test_the_fast_path_answers_splits_and_stores_every_case_as_aiohttp_does(
    outcomes: tuple[Outcomes, dict[str, Listener]],
) -> None:
    seen, listeners = outcomes

    differences = _differences(seen, "fast")

    assert not differences, _report(differences)
    taken = listeners["aiohttp"].parsed_by_aiohttp - listeners["fast"].parsed_by_aiohttp
    assert taken >= 30  # so many requests the fast path answered itself


async def test_under_overload_the_fast_path_answers_every_case_as_aiohttp_does(
    outcomes: tuple[Outcomes, dict[str, Listener]],
) -> None:
    seen, listeners = outcomes

    differences = _differences(seen, "fast overloaded")

    assert not differences, _report(differences)
    oracle = listeners["aiohttp overloaded"].parsed_by_aiohttp
    assert oracle - listeners["fast overloaded"].parsed_by_aiohttp >= 30  # refused early


async def test_under_overload_the_refusal_alone_answers_every_case_as_aiohttp_does(
    outcomes: tuple[Outcomes, dict[str, Listener]],
) -> None:
    seen, listeners = outcomes

    differences = _differences(seen, "refusal overloaded")

    assert not differences, _report(differences)
    oracle = listeners["aiohttp overloaded"].parsed_by_aiohttp
    assert oracle - listeners["refusal overloaded"].parsed_by_aiohttp >= 30
