"""``python -m chaos``: run the fault suite and print its figures.

    python -m chaos                      # every scenario, full size (make chaos)
    python -m chaos --size quick         # the sizes make test uses
    python -m chaos --only gateway-kill,fuzz --json figures.json

PostgreSQL is ``$GATEWAY_TEST_DATABASE_URL`` when set, else an embedded server under
/tmp (the scenarios that crash PostgreSQL always start their own, under /tmp too).
Exits 1 when any scenario fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from chaos.checker import Verdict
from chaos.lab import lab
from chaos.report import render, totals
from chaos.scenarios import SCENARIOS, Scenario
from chaos.sizes import SIZES, Size
from testkit.postgres import PostgresForTests


async def run_scenario(pg: PostgresForTests, root: Path, scenario: Scenario, size: Size) -> Verdict:
    async with lab(pg, root) as the_lab:
        return await scenario(the_lab, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    size = SIZES[args.size]
    root = Path(tempfile.mkdtemp(prefix="gateway-chaos-", dir="/tmp"))
    pg = PostgresForTests()
    verdicts: list[Verdict] = []
    began = time.monotonic()
    try:
        for name in names:
            print(f"-- {name} ({size.name}) …", flush=True)
            try:
                verdict = asyncio.run(run_scenario(pg, root / name, SCENARIOS[name], size))
            except Exception:
                verdict = Verdict(name)
                verdict.fail("the scenario itself failed:\n" + traceback.format_exc())
            verdicts.append(verdict)
            print(render(verdict), flush=True)
    finally:
        pg.close()
    summary = {**totals(verdicts), "wall_seconds": round(time.monotonic() - began, 1)}
    print("== total: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"size": size.name, "total": summary, "scenarios": [v.summary() for v in verdicts]},
                indent=2,
            )
        )
    if all(v.ok for v in verdicts):
        shutil.rmtree(root, ignore_errors=True)
        return 0
    print(f"gateway logs kept in {root}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
