"""Services on one stack: stopped in reverse order, at shutdown and when one cannot start."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from gateway.lifecycle.services import Hooks, Services, StartupError


class Recorded:
    """A service that writes down its start and stop, and may refuse to start."""

    def __init__(self, name: str, journal: list[str], refuse: Exception | None = None) -> None:
        self.name = name
        self.journal = journal
        self.refuse = refuse

    async def start(self) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


@contextlib.asynccontextmanager
async def recorded(name: str, journal: list[str]) -> AsyncIterator[str]:
    journal.append(f"start {name}")
    try:
        yield name
    finally:
        journal.append(f"stop {name}")


async def test_services_stop_in_the_reverse_order_of_starting() -> None:
    journal: list[str] = []

    async def stop_c() -> None:  # a plain start and an async stop, as the writer has
        journal.append("stop c")

    async with Services() as services:
        await services.start("a", Recorded("a", journal))
        assert await services.enter("b", recorded("b", journal)) == "b"
        await services.start("c", Hooks(lambda: journal.append("start c"), stop_c))
    assert journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_a_service_that_cannot_start_stops_those_before_it_and_is_named() -> None:
    journal: list[str] = []
    refused = ConnectionRefusedError("connection refused")

    async def serve() -> None:
        async with Services((OSError,)) as services:
            await services.start("a", Recorded("a", journal))
            await services.enter("b", recorded("b", journal))
            await services.start("pool", Recorded("pool", journal, refuse=refused))
            journal.append("never reached")

    with pytest.raises(StartupError) as failed:
        await serve()
    assert str(failed.value) == "pool: connection refused"
    assert failed.value.__cause__ is refused
    assert journal == ["start a", "start b", "stop b", "stop a"]


async def test_an_unexpected_failure_still_stops_everything_but_is_not_reworded() -> None:
    journal: list[str] = []

    async def serve() -> None:
        async with Services((OSError,)) as services:
            await services.start("a", Recorded("a", journal))
            await services.start("b", Recorded("b", journal, refuse=KeyError("defect")))

    with pytest.raises(KeyError):
        await serve()
    assert journal == ["start a", "stop a"]


async def test_the_cause_of_a_failure_is_on_its_one_line() -> None:
    class Unavailable(Exception):
        pass

    async def connect() -> None:
        try:
            raise OSError('too many connections for role "gw"\n')
        except OSError as exc:
            raise Unavailable("database unavailable: TooManyConnectionsError") from exc

    with pytest.raises(StartupError) as failed:
        async with Services((Unavailable,)) as services:
            await services.start("writer pool", Hooks(connect, connect))
    assert str(failed.value) == (
        'writer pool: database unavailable: TooManyConnectionsError (too many connections for role "gw")'
    )


async def test_a_place_taken_early_stops_what_starts_on_it_later_in_its_turn() -> None:
    journal: list[str] = []
    async with Services() as services:
        await services.start("database", Recorded("database", journal))
        admin = await services.place()
        await services.start("writer", Recorded("writer", journal))
        await admin.start("admin", Recorded("admin", journal))
    assert journal == [
        "start database",
        "start writer",
        "start admin",
        "stop writer",
        "stop admin",
        "stop database",
    ]


async def test_a_step_names_its_expected_failure_and_lets_others_through() -> None:
    services = Services((OSError,))
    with (
        pytest.raises(StartupError, match=r"^configuration: disk full$"),
        services.step("configuration"),
    ):
        raise OSError("disk full")
    with pytest.raises(ValueError, match="defect"), services.step("configuration"):
        raise ValueError("defect")
