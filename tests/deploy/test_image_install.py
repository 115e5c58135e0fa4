"""The Dockerfile's install steps, replayed outside Docker: wheel, fresh environment, run.

The build stage copies pyproject.toml, README.md, gateway/ and migrations/ and runs
`pip wheel`; the final stage installs the wheel with `pip install --no-index` into a clean
Python. Here the same happens under a temporary directory. The package's dependencies come
from the test environment (through a .pth file) instead of a second download, so only the
gateway itself is taken from the wheel.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import GatewayProcess

from .conftest import MINIMAL, REPO, SHOP, merge

pytestmark = pytest.mark.slow

BUILD_CONTEXT = ("pyproject.toml", "README.md", "gateway", "migrations")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    prefix: Path
    env: dict[str, str]

    def run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.prefix / "bin" / "webhook-gateway"), *args],
            env={**self.env, **kwargs.pop("env", {})},
            cwd=self.prefix.parent,  # not the repository: its gateway/ must not be importable
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **kwargs,
        )


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if not (REPO / "gateway" / "cli.py").exists():
        pytest.skip("gateway/cli.py (the console script's target) is not there yet")
    root = tmp_path_factory.mktemp("image")

    context = root / "src"  # what the build stage COPYs
    context.mkdir()
    for name in BUILD_CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)

    # Build stage: `pip wheel . -w /wheels` (only our wheel: dependencies are not rebuilt).
    wheels = root / "wheels"
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    _pip("wheel", "--no-deps", *isolation, ".", "-w", str(wheels), cwd=context)
    (wheel,) = wheels.glob("webhook_gateway-*.whl")

    # Final stage: `pip install --no-index --find-links=/wheels webhook-gateway` into a
    # Python of its own.
    prefix = root / "venv"
    venv.EnvBuilder(with_pip=False).create(prefix)
    python = prefix / "bin" / "python"
    _pip(
        "--python", str(python), "install", "--no-index", "--no-deps",
        "--find-links", str(wheels), "webhook-gateway",
        cwd=root,
    )  # fmt: skip
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            text=True,
        ).strip()
    )
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")

    env = {
        "PATH": f"{prefix / 'bin'}:/usr/bin:/bin",
        "HOME": str(root),
        "PYTHONNOUSERSITE": "1",
        "GATEWAY_DATABASE__DATA_DIR": str(root / "data"),  # as the image sets it
    }
    return Installed(wheel=wheel, prefix=prefix, env=env)


def test_image_install_steps_produce_a_working_gateway(installed: Installed) -> None:
    result = installed.run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "migrate", "check-config", "token"):
        assert command in result.stdout
    where = subprocess.run(
        [str(installed.prefix / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
        env=installed.env,
        cwd=installed.prefix.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed.prefix)), "gateway must come from the wheel"


def test_installed_gateway_takes_the_roles_the_chart_starts_it_with(installed: Installed) -> None:
    result = installed.run("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--config", "--role", "ingress", "worker", "api", "all"):
        assert option in result.stdout


def test_wheel_carries_the_migrations_the_hook_job_runs(installed: Installed) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    target = force_include["migrations"]
    names = zipfile.ZipFile(installed.wheel).namelist()
    shipped = [n for n in names if n.startswith(f"{target}/")]
    in_repo = [p for p in (REPO / "migrations").rglob("*") if p.is_file()]
    if in_repo:
        assert shipped, f"no {target}/ in {installed.wheel.name}"
    assert not [n for n in names if n.startswith(("tests/", "helm/", "bench/"))]


def test_installed_gateway_accepts_the_config_the_chart_renders(
    installed: Installed, render: Any, tmp_path: Path
) -> None:
    out = render(merge(MINIMAL, {"sources": [SHOP]}))
    config = tmp_path / "config.toml"
    config.write_text(out.config_toml())
    env = {
        "GATEWAY_DATABASE__URL": "postgresql://gateway:pw@db.invalid:5432/gateway",
        "GATEWAY_API__JWT_SECRET": "k" * 48,
        "GATEWAY_SOURCE_SHOP_SECRET": "shpss_example",
    }
    result = installed.run("check-config", "--config", str(config), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 sources" in result.stdout


def test_installed_gateway_serves_from_the_wheel_alone(
    installed: Installed, database_url: str, tmp_path: Path
) -> None:
    gateway = GatewayProcess(
        tmp_path,
        {"database": {"url": database_url}},
        command=[str(installed.prefix / "bin" / "webhook-gateway")],
        env=installed.env,
    )
    gateway.start()
    try:
        with urllib.request.urlopen(f"{gateway.ingress}/healthz", timeout=5) as response:  # noqa: S310
            assert response.status == 200
    finally:
        assert gateway.stop() == 0


def test_wheel_carries_the_console_templates_and_static_files(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    console = REPO / "gateway" / "console"
    expected = [
        f"gateway/console/{path.relative_to(console)}"
        for folder in ("templates", "static")
        for path in (console / folder).iterdir()
    ]
    assert expected
    assert [name for name in expected if name not in names] == []
