"""The scenarios of the fault suite, in the order the issue lists them, then the fuzz and
the fast path's judgement of plain webhooks against aiohttp's parsers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chaos.checker import Verdict
from chaos.lab import Lab
from chaos.scenarios.bad_subscribers import bad_subscribers
from chaos.scenarios.database_crash import database_kill_9
from chaos.scenarios.database_outage import database_outage
from chaos.scenarios.duplicates import duplicate_burst
from chaos.scenarios.framing import framing_judgement
from chaos.scenarios.fuzz import fuzz
from chaos.scenarios.gateway_crash import gateway_kill_9
from chaos.scenarios.hostile_transforms import hostile_transforms
from chaos.scenarios.replicas import replica_kill_9
from chaos.scenarios.sigterm import sigterm_under_load
from chaos.sizes import Size

__all__ = [
    "SCENARIOS",
    "Scenario",
    "bad_subscribers",
    "database_kill_9",
    "database_outage",
    "duplicate_burst",
    "framing_judgement",
    "fuzz",
    "gateway_kill_9",
    "hostile_transforms",
    "replica_kill_9",
    "sigterm_under_load",
]

Scenario = Callable[[Lab, Size], Awaitable[Verdict]]

SCENARIOS: dict[str, Scenario] = {
    "gateway-kill": gateway_kill_9,
    "database-outage": database_outage,
    "database-kill": database_kill_9,
    "replica-kill": replica_kill_9,
    "bad-subscribers": bad_subscribers,
    "hostile-transforms": hostile_transforms,
    "sigterm": sigterm_under_load,
    "duplicates": duplicate_burst,
    "fuzz": fuzz,
    "framing": framing_judgement,
}
