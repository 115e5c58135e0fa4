"""values.schema.json turns bad values away at install/template time."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest

from .conftest import CHART_DIR, MINIMAL, REPO, SHOP, VALUES_SETS, helm, merge

BAD_VALUES: dict[str, dict[str, Any]] = {
    "an unknown mode": {"mode": "both"},
    "a misspelt top-level key": {"replicaCount": 3},
    "negative replicas": {"roles": {"worker": {"replicas": -1}}},
    "an unknown role": {"roles": {"scheduler": {"replicas": 1}}},
    "a database URL that is not PostgreSQL": {"database": {"url": "mysql://db/gateway"}},
    "a short JWT key": {"api": {"jwtSecret": "too-short"}},
    "the chart's own listener keys": {"config": {"admin": {"host": "127.0.0.1"}}},
    "the database URL in the config": {"config": {"database": {"url": "postgresql://x/y"}}},
    "migrate_on_start in the config": {"config": {"database": {"migrate_on_start": True}}},
    "the JWT key in the config": {"config": {"api": {"jwt_secret": "x" * 40}}},
    "an unknown config key": {"config": {"delivery": {"retries": 3}}},
    "a float where the program wants an integer": {"config": {"delivery": {"max_attempts": 2.5}}},
    "an unknown log level": {"config": {"log": {"level": "TRACE"}}},
    "an unknown verification scheme": {"sources": [dict(SHOP, scheme="md5")]},
    "an upper-case source name": {"sources": [dict(SHOP, name="Shop")]},
    "a source name with a double separator": {"sources": [dict(SHOP, name="a__b")]},
    "a source without a name": {"sources": [{"scheme": "none"}]},
    "an unknown source key": {"sources": [dict(SHOP, verify=True)]},
    "a negative replay window": {"sources": [dict(SHOP, replay_window_seconds=-1)]},
    "a source rate limit of zero": {"sources": [dict(SHOP, rate_limit_per_second=0)]},
    "a source burst of zero": {
        "sources": [dict(SHOP, rate_limit_per_second=5, rate_limit_burst=0)]
    },
    "a subscriber without a URL": {"subscribers": [{"name": "wms", "secret": "${WMS}"}]},
    "a subscriber with a URL and a destination": {
        "subscribers": [
            {
                "name": "wms",
                "url": "https://wms.example.com",
                "destination": {"kind": "amqp", "broker": "rabbit", "routing_key": "orders"},
            }
        ]
    },
    "a destination of an unknown kind": {
        "subscribers": [{"name": "wms", "destination": {"kind": "kafka", "broker": "k"}}]
    },
    "an unknown subscriber key": {
        "subscribers": [{"name": "wms", "url": "https://wms.example.com", "retries": 3}]
    },
    "a subscriber name with a slash": {
        "subscribers": [{"name": "a/b", "url": "https://wms.example.com", "secret": "${W}"}]
    },
    "running as root": {"securityContext": {"runAsUser": 0}},
    "a writable root filesystem": {"securityContext": {"readOnlyRootFilesystem": False}},
    "privilege escalation": {"securityContext": {"allowPrivilegeEscalation": True}},
    "a privileged container": {"securityContext": {"privileged": True}},
    "a pod allowed to run as root": {"podSecurityContext": {"runAsNonRoot": False}},
    "capabilities left to the runtime's defaults": {"securityContext": {"capabilities": None}},
    "a public Service type that does not exist": {"service": {"type": "Public"}},
    "a public Service with a port choice": {"service": {"port": 8081}},
    "an admin Service that is not internal": {"adminService": {"type": "LoadBalancer"}},
    "moving the admin listener through the environment": {
        "extraEnv": [{"name": "GATEWAY_ADMIN__PORT", "value": "8080"}]
    },
    "TLS without hosts": {"ingress": {"tls": [{"secretName": "tls"}]}},
    "an ingress path that is not absolute": {
        "ingress": {"hosts": [{"host": "h", "paths": [{"path": "x", "pathType": "Prefix"}]}]}
    },
    "an HTTPRoute with no parent Gateway": {"httpRoute": {"enabled": True}},
    "a metric name Prometheus would reject": {"metrics": {"names": {"ackLatency": "ack-latency"}}},
    "a percentage where a ratio is meant": {
        "metrics": {"prometheusRule": {"thresholds": {"deliveryFailureRatio": 25}}}
    },
    "an image digest that is not sha256": {"image": {"digest": "latest"}},
    "a non-boolean switch": {"networkPolicy": {"enabled": "yes"}},
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_are_rejected_by_the_schema(chart: Any, render: Any, case: str) -> None:
    values = merge(MINIMAL, BAD_VALUES[case])
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        render(values)


def test_bad_values_fail_the_lint_too() -> None:
    report = helm.lint(CHART_DIR, merge(MINIMAL, {"mode": "both"}))
    assert any("mode" in error for error in report["errors"])


@pytest.mark.parametrize("name", sorted(VALUES_SETS))
def test_the_example_values_sets_pass_the_schema(chart: Any, name: str) -> None:
    chart.validate_schema(VALUES_SETS[name])


def test_the_chart_defaults_pass_the_schema(chart: Any) -> None:
    chart.validate_schema(chart.values)


# Keys the chart sets itself, or takes from Secrets, rather than from values.config.
CHART_OWNED = {
    "ingress": {"host", "port"},
    "admin": {"host", "port"},
    "database": {"url", "data_dir", "migrate_on_start"},
    "api": {"jwt_secret"},
}
SECTION_RECORDS = {
    "ingress": "IngressConfig",
    "admin": "AdminConfig",
    "database": "DatabaseConfig",
    "writer": "WriterConfig",
    "delivery": "DeliveryConfig",
    "api": "ApiConfig",
    "log": "LogConfig",
    "metrics": "MetricsConfig",
    "retention": "RetentionConfig",
    "sources": "SourceConfig",
    "subscribers": "SubscriberConfig",
}


# Where the config records are defined: the sections, and what a [[sources]] and a
# [[subscribers]] table are.
RECORD_MODULES = [
    *sorted((REPO / "gateway" / "config").glob("*.py")),
    REPO / "gateway" / "domain" / "source.py",
    REPO / "gateway" / "domain" / "subscriber.py",
]


def record_fields() -> dict[str, set[str]]:
    """Field names of each config record (its bases' too), read from its module without
    importing it."""
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for path in RECORD_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                own[node.name] = {
                    stmt.target.id
                    for stmt in node.body
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                }
                bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def fields(name: str) -> set[str]:
        inherited = [fields(base) for base in bases.get(name, []) if base in own]
        return own[name].union(*inherited)

    return {name: fields(name) for name in own}


def test_schema_config_keys_match_the_programs_config_records() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    records = record_fields()
    sections = schema["properties"]["config"]["properties"]
    for section, record in SECTION_RECORDS.items():
        if section in ("sources", "subscribers"):
            allowed = set(schema["properties"][section]["items"]["properties"])
        else:
            allowed = set(sections[section]["properties"])
        program = records[record] - CHART_OWNED.get(section, set())
        assert allowed == program, section
