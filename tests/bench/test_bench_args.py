"""The harness's command line: a workload that cannot run alone is refused up front."""

from __future__ import annotations

import pytest

from bench.run import parse


def test_workload_two_without_workload_one_is_refused_with_the_way_to_run_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["--only", "2"])
    assert exited.value.code == 2
    assert "--only 1,2" in capsys.readouterr().err


def test_workload_two_with_workload_one_is_taken() -> None:
    assert parse(["--only", "1,2"]).workloads == (1, 2)
