"""Nothing acknowledged is lost, whatever crashes: the fault suite's scenarios, small.

Each test runs one scenario of chaos/ against real gateway processes and PostgreSQL and
fails with the checker's full report (figures and every violation).
"""

from __future__ import annotations

import pytest

from chaos.checker import Verdict
from chaos.lab import Lab
from chaos.report import render
from chaos.scenarios import (
    bad_subscribers,
    database_kill_9,
    database_outage,
    duplicate_burst,
    framing_judgement,
    fuzz,
    gateway_kill_9,
    hostile_transforms,
    replica_kill_9,
    sigterm_under_load,
)
from chaos.sizes import Size

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _held(verdict: Verdict) -> None:
    print(render(verdict))
    assert verdict.ok, render(verdict)


async def test_acknowledged_events_survive_repeated_kill_9_of_the_gateway(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await gateway_kill_9(chaos_lab, size))


async def test_an_unreachable_database_means_503_then_recovery_without_restart(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await database_outage(chaos_lab, size))


async def test_acknowledged_events_survive_kill_9_of_postgresql(chaos_lab: Lab, size: Size) -> None:
    _held(await database_kill_9(chaos_lab, size))


async def test_a_killed_replicas_deliveries_are_taken_over_by_the_others(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await replica_kill_9(chaos_lab, size))


async def test_misbehaving_subscribers_leave_the_gateway_bounded(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await bad_subscribers(chaos_lab, size))


async def test_hostile_transforms_dead_letter_and_healthy_subscribers_get_everything(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await hostile_transforms(chaos_lab, size))


async def test_sigterm_under_load_exits_in_time_with_nothing_lost(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await sigterm_under_load(chaos_lab, size))


async def test_a_burst_of_duplicates_stores_and_delivers_each_event_once(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await duplicate_burst(chaos_lab, size))


async def test_hostile_input_at_volume_gets_no_5xx_and_leaks_nothing(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await fuzz(chaos_lab, size))


async def test_the_fast_paths_judgement_takes_only_what_aiohttp_reads_the_same_way(
    chaos_lab: Lab, size: Size
) -> None:
    _held(await framing_judgement(chaos_lab, size))
