"""The Dockerfile, read as Docker reads it (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from packaging.specifiers import SpecifierSet

from .conftest import CHART_DIR, DOCKERFILE, REPO

UID = "10001"


@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """Instructions grouped by stage (each starting with its FROM); comments dropped."""
    grouped: list[list[dict[str, Any]]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            grouped.append([])
        if grouped and item["instruction"] != "COMMENT":
            grouped[-1].append(item)
    return grouped


def values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [str(i["value"]) for i in stage if i["instruction"] == instruction]


def test_dockerfile_builds_in_two_stages(parser: DockerfileParser) -> None:
    assert parser.is_multistage
    froms = [values(stage, "FROM")[0] for stage in stages(parser)]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_base_image_is_a_pinned_slim_python_311(parser: DockerfileParser) -> None:
    for image in parser.parent_images:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image
    labels = parser.labels
    assert labels["org.opencontainers.image.base.name"].endswith(parser.parent_images[-1])


def test_wheels_are_built_in_the_first_stage(parser: DockerfileParser) -> None:
    build = stages(parser)[0]
    assert "pip wheel . -w /wheels" in values(build, "RUN")
    copied = " ".join(values(build, "COPY"))
    for path in ("pyproject.toml", "README.md", "gateway", "migrations"):
        assert path in copied


def test_final_stage_installs_only_the_package_and_its_broker_and_tracing_extras_from_the_wheels(
    parser: DockerfileParser,
) -> None:
    final = stages(parser)[-1]
    assert values(final, "COPY") == []  # no sources, no wheels left in a layer
    (install,) = [r for r in values(final, "RUN") if "pip install" in r]
    assert "--mount=type=bind,from=build,source=/wheels" in install
    assert "--no-index" in install
    assert "--find-links=/wheels" in install
    package = install.split("pip install", 1)[1].split("&&")[0].split()[-1]
    assert package == '"webhook-gateway[rabbitmq,sqs,tracing]"'


def test_final_stage_has_no_compiler_or_cache(parser: DockerfileParser) -> None:
    final = stages(parser)[-1]
    for run in values(final, "RUN"):
        assert "apt-get install" not in run
        assert not re.search(r"\b(gcc|build-essential|make)\b", run)
    assert parser.envs["PIP_NO_CACHE_DIR"] == "1"
    assert parser.envs["PYTHONDONTWRITEBYTECODE"] == "1"


def test_image_runs_as_a_fixed_non_root_uid(parser: DockerfileParser) -> None:
    final = stages(parser)[-1]
    users = values(final, "USER")
    assert users == [f"{UID}:{UID}"]
    user_index = next(i for i, item in enumerate(final) if item["instruction"] == "USER")
    after = [item["instruction"] for item in final[user_index + 1 :]]
    assert "RUN" not in after  # nothing after USER runs as root
    setup = " ".join(values(final, "RUN"))
    assert f"--uid {UID}" in setup
    assert f"--gid {UID}" in setup


def test_image_sets_the_data_dir_owned_by_the_runtime_user(parser: DockerfileParser) -> None:
    assert parser.envs["GATEWAY_DATABASE__DATA_DIR"] == "/var/lib/webhook-gateway"
    setup = " ".join(values(stages(parser)[-1], "RUN"))
    assert f"install -d -o {UID} -g {UID}" in setup
    assert "/var/lib/webhook-gateway" in setup


def test_entrypoint_is_the_console_script_and_serve_is_the_default_command(
    parser: DockerfileParser,
) -> None:
    final = stages(parser)[-1]
    assert [json.loads(v) for v in values(final, "ENTRYPOINT")] == [["webhook-gateway"]]
    assert [json.loads(v) for v in values(final, "CMD")] == [["serve"]]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "webhook-gateway" in pyproject["project"]["scripts"]


def test_healthcheck_probes_healthz_on_the_ingress_port_without_curl(
    parser: DockerfileParser,
) -> None:
    (healthcheck,) = values(stages(parser)[-1], "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "curl" not in healthcheck
    assert "http://127.0.0.1:8080/healthz" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")


def test_image_has_oci_labels(parser: DockerfileParser) -> None:
    labels = parser.labels
    for key in ("title", "description", "version", "revision", "created", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_image_exposes_the_ingress_and_admin_ports(parser: DockerfileParser) -> None:
    assert values(stages(parser)[-1], "EXPOSE") == ["8080 8081"]


def test_image_chart_and_package_agree_on_the_versions(parser: DockerfileParser) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    version = pyproject["project"]["version"]
    assert chart["appVersion"] == version
    assert parser.labels["org.opencontainers.image.version"] == version
    base_python = re.search(r"python:(\d+\.\d+\.\d+)", parser.parent_images[-1])
    assert base_python
    assert SpecifierSet(pyproject["project"]["requires-python"]).contains(base_python.group(1))


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        regex = _glob_to_regex(raw.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_sends_everything_the_build_copies(parser: DockerfileParser) -> None:
    patterns = dockerignore_patterns()
    sources = []
    for copy in values(stages(parser)[0], "COPY"):
        sources.extend(shlex.split(copy)[:-1])
    assert sources
    for source in sources:
        assert not dockerignore_excludes(source, patterns), source
    for path in ("gateway/config/schema.py", "gateway/store/queries.sql", "migrations/env.py"):
        assert not dockerignore_excludes(path, patterns), path


def test_dockerignore_keeps_everything_else_out_of_the_build_context() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        ".gateway/pgdata/PG_VERSION",
        "tests/unit/test_config.py",
        "helm/webhook-gateway/values.yaml",
        "bench/results/run.json",
        "gateway/__pycache__/config.cpython-311.pyc",
        "gateway/store/__pycache__/sql.cpython-311.pyc",
        "dist/webhook_gateway-0.1.0-py3-none-any.whl",
        ".env",
    ):
        assert dockerignore_excludes(path, patterns), path


def test_the_test_kit_stays_out_of_the_build_context() -> None:
    patterns = dockerignore_patterns()
    for path in ("testkit/__init__.py", "testkit/sinks.py", "bench/run.py", "chaos/lab.py"):
        assert dockerignore_excludes(path, patterns), path
