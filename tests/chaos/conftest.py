"""The fault suite (chaos/) at the size ``make test`` can afford; ``CHAOS_SIZE=full`` for more."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaos.lab import Lab, lab
from chaos.sizes import SIZES, Size
from testkit.postgres import PostgresForTests


@pytest.fixture
def size() -> Size:
    return SIZES[os.environ.get("CHAOS_SIZE", "quick")]


@pytest.fixture
async def chaos_lab(pg_server: PostgresForTests, tmp_path: Path) -> AsyncIterator[Lab]:
    async with lab(pg_server, tmp_path) as the_lab:
        yield the_lab
        for gateway in the_lab.gateways:  # shown only when the test fails
            print(f"--- {gateway.config_path.parent.name} ---\n{gateway.logs()[-20000:]}")
