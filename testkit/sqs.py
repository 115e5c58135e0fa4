"""An SQS emulator (moto's server mode) on loopback, for the tests.

It speaks SQS's wire protocol, so the gateway's aiobotocore client talks to it as it
talks to AWS, given the server's ``endpoint_url``. It runs as a process of its own, so a
test can kill the gateway without touching the queues. Production runs against AWS.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from testkit.processes import free_port

__all__ = ["SQS_CREDENTIALS", "SqsServer"]

# What the emulator accepts: the gateway reads them from the standard AWS variables.
SQS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-access-key",
    "AWS_DEFAULT_REGION": "eu-central-1",
}


class SqsServer:
    """``endpoint_url`` serves SQS for region ``region`` with ``SQS_CREDENTIALS``."""

    region = "eu-central-1"

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **SQS_CREDENTIALS},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise RuntimeError(f"moto server exited: {self.process.stderr.read()!r}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.close()
        raise RuntimeError("moto server did not start")

    def reset(self) -> None:
        """Forget every queue and message (between tests)."""
        reset = f"{self.endpoint_url}/moto-api/reset"
        with urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=10):  # noqa: S310
            pass

    def close(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
