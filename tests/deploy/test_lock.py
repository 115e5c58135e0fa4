"""The locks in requirements/ agree with pyproject.toml, and the installs use them.

pyproject.toml keeps the ranges a library user installs within; the locks pin what CI
tests, the image ships and `make serve` runs. A dependency added to pyproject.toml (or a
range moved past its pin) without `make lock` fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import DOCKERFILE, REPO

LOCKS = REPO / "requirements"
# Where the locks are for (the image's platform and CI's): markers are read for it.
PLATFORM = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.11",
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(?:\\)?$")


def pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def read_lock(name: str) -> dict[str, tuple[str, int]]:
    """Each package the lock pins: its version and how many hashes it carries."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (LOCKS / name).read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def wanted(extra: str | None) -> list[Requirement]:
    """The requirements of the package (``extra=None``) or of one extra, for the platform."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    found = [Requirement(line) for line in lines]
    ours = canonicalize_name(str(project["name"]))
    wanted_here = [r for r in found if r.marker is None or r.marker.evaluate(PLATFORM)]
    own_extras = [r for r in wanted_here if canonicalize_name(r.name) == ours]
    others = [r for r in wanted_here if canonicalize_name(r.name) != ours]
    return others + [dep for r in own_extras for name in sorted(r.extras) for dep in wanted(name)]


def build_requires() -> list[Requirement]:
    build = pyproject()["build-system"]
    assert isinstance(build, dict)
    return [Requirement(line) for line in build["requires"]]


SETS = {
    "runtime.lock": lambda: wanted(None) + wanted("rabbitmq") + wanted("sqs"),
    "test.lock": lambda: wanted(None) + wanted("test"),
    "bench.lock": lambda: wanted(None) + wanted("test") + wanted("bench"),
    "build.lock": build_requires,
}


@pytest.mark.parametrize("lock", sorted(SETS))
def test_every_dependency_in_pyproject_is_locked_at_a_version_its_range_admits(
    lock: str,
) -> None:
    pins = read_lock(lock)
    unlocked = []
    outside = []
    for requirement in SETS[lock]():
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            unlocked.append(str(requirement))
        elif not requirement.specifier.contains(pinned[0], prereleases=True):
            outside.append(f"{requirement} (locked at {pinned[0]})")
    assert unlocked == [], f"not in requirements/{lock}: run `make lock`"
    assert outside == [], f"requirements/{lock} is outside pyproject's ranges: run `make lock`"


@pytest.mark.parametrize("lock", sorted(SETS))
def test_every_locked_version_carries_the_hashes_of_its_files(lock: str) -> None:
    pins = read_lock(lock)
    assert pins
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("runtime.lock", "test.lock"), ("test.lock", "bench.lock"), ("build.lock", "test.lock")],
)
def test_the_locks_pin_each_package_they_share_at_one_version(smaller: str, larger: str) -> None:
    """What CI tests (test.lock) is what the image runs (runtime.lock) and builds with."""
    small, large = read_lock(smaller), read_lock(larger)
    differ = {
        name: (version, large[name][0])
        for name, (version, _) in small.items()
        if name in large and large[name][0] != version
    }
    assert differ == {}
    if smaller != "build.lock":
        assert sorted(set(small) - set(large)) == []


def test_make_installs_the_test_set_from_its_lock_then_the_package_alone() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "pip install --quiet --require-hashes -r requirements/test.lock" in recipe
    assert "pip install --quiet --no-deps -e ." in recipe
    assert ".[test]" not in recipe


def test_the_image_is_built_from_the_locked_wheels_alone() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    build = parser.content.split("AS runtime", 1)[0]
    assert "pip wheel --require-hashes -r requirements/runtime.lock -w /wheels" in build
    assert "pip wheel --require-hashes -r requirements/build.lock -w /wheels" in build
    # The package is then resolved against those wheels only.
    env = build.split("RUN pip wheel . -w /wheels", 1)[0]
    assert re.search(r"PIP_NO_INDEX=1", env)
    assert re.search(r"PIP_FIND_LINKS=/wheels", env)


def test_the_lock_files_are_in_the_repository() -> None:
    assert sorted(path.name for path in Path(LOCKS).glob("*.lock")) == sorted(SETS)
