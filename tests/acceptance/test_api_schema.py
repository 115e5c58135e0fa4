"""The admin API against its own OpenAPI document, with generated requests (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from testkit.postgres import PostgresForTests, with_database
from testkit.processes import GatewayProcess

EXAMPLES = 25


@pytest.fixture(scope="module")
def gateway(
    pg_server: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    name = pg_server.create_database()
    folder: Path = tmp_path_factory.mktemp("schema")
    config = {
        "database": {"url": with_database(pg_server.url, name)},
        "delivery": {"allowed_private_cidrs": ["127.0.0.0/8"]},
        "log": {"level": "WARNING"},
    }
    process = GatewayProcess(folder, config).start()
    yield process
    process.kill()
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def token(gateway: GatewayProcess) -> str:
    return gateway.token("admin")


@pytest.fixture(scope="module")
def api_schema(gateway: GatewayProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{gateway.admin}/api/v1/openapi.json")


def test_every_operation_answers_within_its_documented_contract(
    api_schema: schemathesis.BaseSchema, gateway: GatewayProcess, token: str
) -> None:
    """Generated requests, valid and invalid: no 5xx, and every answer matches the document.

    A request the document allows may still be refused with 422: rules across fields
    (a scheme that needs a secret) are checked by the server, not written in the schema.
    """
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=gateway.admin, headers=headers, excluded_checks=[positive_data_acceptance]
            )

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
