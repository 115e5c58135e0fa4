"""The README's walkthrough, run as written: its own shell blocks, `make serve` included.

Only the ports change (so a gateway the reader left running does no harm), the database
is the test's, and the warehouse's backoff is short; every command is the README's.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.polling import until_sync
from testkit.processes import free_port

REPO = Path(__file__).resolve().parents[2]
until = functools.partial(until_sync, timeout=30.0, every=0.1)
BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
ASSIGNED = re.compile(r"^([A-Z][A-Z_]*)=", re.MULTILINE)


def walkthrough_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index("## A five-minute walk through")
    end = text.index("\n## ", start + 1)
    return BLOCK.findall(text[start:end])


class Walk:
    """Runs the blocks one at a time in bash, carrying their variables from one to the next."""

    def __init__(self, folder: Path, ports: dict[str, str], env: dict[str, str]) -> None:
        self.folder = folder
        self.ports = ports
        self.env = env
        self.state = folder / "state.sh"
        self.state.write_text("")
        self.names: list[str] = []
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []

    def local(self, block: str) -> str:
        for old, new in self.ports.items():
            block = block.replace(old, str(new))
        return block

    def run(self, block: str, *, keep: bool = True) -> str:
        """Run ``block`` with the variables of the blocks before it (and keep its own)."""
        if keep:
            self.names += [n for n in ASSIGNED.findall(block) if n not in self.names]
        save = f"declare -p {' '.join(self.names)} > {self.state}" if self.names else ""
        script = f"source {self.state}\nset -euo pipefail\n{self.local(block)}\n{save}\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (
            f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        return done.stdout

    def start(self, block: str) -> Path:
        """A block that runs until stopped (the gateway, a subscriber): in the background."""
        log = self.folder / f"terminal-{len(self.background)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {self.local(block).strip()}"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append((process, log))
        return log

    def stop(self) -> None:
        for process, _ in reversed(self.background):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.fixture
def walk(tmp_path: Path, database_url: str) -> Iterator[Walk]:
    ports = {"8080": free_port(), "8081": free_port(), "9000": free_port(), "9001": free_port()}
    env = {
        **os.environ,
        "GATEWAY_INGRESS__PORT": str(ports["8080"]),
        "GATEWAY_ADMIN__PORT": str(ports["8081"]),
        "GATEWAY_DATABASE__URL": database_url,
        "GATEWAY_DATABASE__DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_DELIVERY__BACKOFF_BASE_SECONDS": "0.2",
        "GATEWAY_DELIVERY__BACKOFF_CAP_SECONDS": "0.5",
        "GATEWAY_DELIVERY__POLL_INTERVAL_SECONDS": "0.2",
    }
    spelled = {f":{k}": f":{v}" for k, v in ports.items()}
    spelled |= {f"--port {k}": f"--port {v}" for k, v in ports.items()}
    walk = Walk(tmp_path, spelled, env)
    yield walk
    walk.stop()
    for _, log in walk.background:
        print(f"--- {log.name} ---\n{log.read_text()[-10000:]}")


def test_the_readme_walkthrough_works_to_the_end_dead_letter_included(walk: Walk) -> None:
    blocks = walkthrough_blocks()
    assert blocks[0].strip() == "make serve"
    gateway = walk.start(blocks[0])
    warehouse = walk.start(blocks[1])
    until(lambda: "serving" in gateway.read_text(), what="the gateway to serve")
    until(lambda: "listening" in warehouse.read_text(), what="the warehouse to listen")
    assert "allowed_private_cidrs opens 127.0.0.0/8" in gateway.read_text()

    walk.run(blocks[2])  # the token, the warehouse registered
    sent = walk.run(blocks[3])
    assert "202 Accepted" in sent
    assert '"duplicate":false' in sent
    until(lambda: "answered 200" in warehouse.read_text(), what="the warehouse's third attempt")
    assert warehouse.read_text().count("answered 500") == 2

    attempts = walk.run(blocks[4])
    assert '"outcome": "http_error"' in attempts
    walk.run(blocks[5])  # the ERP registered, an order sent to it
    dead = "curl -s 'http://127.0.0.1:8081/api/v1/deliveries?status=dead' -H \"$AUTH\" | jq '.data | length'"
    until(
        lambda: walk.run(dead, keep=False).strip() == "1",
        timeout=10,
        what="the ERP's delivery to die",
    )
    erp = walk.start(blocks[6])
    until(lambda: "listening" in erp.read_text(), what="the ERP to listen")
    walk.run(blocks[7])  # the dead letter found and sent again
    until(lambda: '"id": 1043' in erp.read_text(), what="the dead letter to reach the ERP")

    registered = walk.run(blocks[8])  # two warehouses, with a filter and a transform each
    assert registered.count('"transform":"') == 2, registered
    walk.run(blocks[9])  # a German order and a French one
    until(lambda: "POST /dach answered 200" in warehouse.read_text(), what="the German order")
    until(lambda: "POST /rest answered 200" in erp.read_text(), what="the French order")
    dach = warehouse.read_text().split("POST /dach answered 200", 1)[1]
    rest = erp.read_text().split("POST /rest answered 200", 1)[1]
    assert '"order_number":"1001"' in dach, dach
    assert '"country":"DE"' in dach, dach
    assert '"country":"FR"' in rest, rest
    assert "/dach" not in erp.read_text()
    assert "/rest" not in warehouse.read_text()
    why = walk.run(blocks[10])
    assert '"reason":"filter: shipping_address.country_code $in [DE, AT]: was FR"' in why, why
    assert len(blocks) == 11
