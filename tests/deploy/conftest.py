"""Helpers for the deployment tests: render the Helm chart offline and look at the result.

Everything here runs without a cluster, a Docker engine or a network: the chart is rendered
and linted by Helm's own engine (helm-python-sdk), and manifests are checked against the
Kubernetes schemas that kubernetes-validate ships.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "webhook-gateway"
DOCKERFILE = REPO / "Dockerfile"

RELEASE = "gw"
NAMESPACE = "webhooks"
FULLNAME = "gw-webhook-gateway"

ADMIN_PORT = 8081
PUBLIC_PORT = 8080
DATABASE_URL = "postgresql://gateway:pw@pg-rw.db.svc:5432/gateway"
JWT_SECRET = "k" * 48

# Kubernetes versions every manifest must be valid for: the chart's oldest supported
# version (Chart.yaml kubeVersion) and the newest one kubernetes-validate knows.
KUBE_VERSIONS = ("1.27.0", "1.37.0")

# Kinds from CRDs (Prometheus operator, Gateway API): no bundled schema, checked by shape.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two values dicts (override wins), like Helm's -f layering."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


MINIMAL: dict[str, Any] = {"database": {"url": DATABASE_URL}, "api": {"jwtSecret": JWT_SECRET}}

SHOP = {
    "name": "shop",
    "scheme": "shopify",
    "secret": "shpss_example",
    "event_id": "X-Shopify-Webhook-Id",
    "event_type": "X-Shopify-Topic",
}

# The values sets every general property is checked against.
VALUES_SETS: dict[str, dict[str, Any]] = {
    "defaults": MINIMAL,
    "split-with-api-role": merge(MINIMAL, {"mode": "split", "roles": {"api": {"enabled": True}}}),
    "all-in-one": merge(MINIMAL, {"mode": "all"}),
    "existing-secret": {
        "existingSecret": "gateway-secrets",
        "sources": [{k: v for k, v in SHOP.items() if k != "secret"}],
    },
    "tls-ingress": merge(
        MINIMAL,
        {
            "sources": [SHOP],
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": [
                    {"host": "hooks.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
                ],
                "tls": [{"secretName": "hooks-tls", "hosts": ["hooks.example.com"]}],
            },
            "httpRoute": {
                "enabled": True,
                "parentRefs": [{"name": "public", "namespace": "gateway-system"}],
                "hostnames": ["hooks.example.com"],
            },
        },
    ),
    "monitoring": merge(
        MINIMAL,
        {
            "metrics": {
                "podAnnotations": True,
                "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
                "prometheusRule": {"enabled": True},
            }
        },
    ),
    "autoscaling": merge(
        MINIMAL,
        {
            "roles": {
                "ingress": {"autoscaling": {"enabled": True, "maxReplicas": 6}},
                "worker": {
                    "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80}
                },
            }
        },
    ),
}


@dataclass(frozen=True)
class Rendered:
    """The manifests one `helm template` produces, parsed."""

    files: dict[str, str]
    docs: list[dict[str, Any]]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for doc in self.kind(kind):
            if doc["metadata"]["name"] == name:
                return doc
        names = [d["metadata"]["name"] for d in self.kind(kind)]
        raise AssertionError(f"no {kind} named {name!r}; there are {names}")

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Deployments by role (the app.kubernetes.io/component label)."""
        return {
            d["metadata"]["labels"]["app.kubernetes.io/component"]: d
            for d in self.kind("Deployment")
        }

    def pod_specs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every pod template: the Deployments' and the migrations Job's."""
        for doc in self.docs:
            if doc["kind"] in {"Deployment", "Job"}:
                yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]

    def config_toml(self) -> str:
        return str(self.get("ConfigMap", FULLNAME)["data"]["config.toml"])

    def notes(self) -> str:
        return next(text for path, text in self.files.items() if path.endswith("NOTES.txt"))


@pytest.fixture(scope="session")
def chart() -> Iterator[Any]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: Any) -> Any:
    """render(values) -> Rendered; raises helm's error when the chart refuses the values."""

    def _render(values: Mapping[str, Any] | None = None) -> Rendered:
        files = chart.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE, is_install=True)
        docs = [
            doc
            for path, text in sorted(files.items())
            if path.endswith((".yaml", ".yml"))
            for doc in yaml.safe_load_all(text)
            if doc
        ]
        return Rendered(files=files, docs=docs)

    return _render


@pytest.fixture(params=sorted(VALUES_SETS), scope="session")
def values_set(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    name = request.param
    return name, VALUES_SETS[name]


@pytest.fixture(scope="session")
def rendered(render: Any, values_set: tuple[str, dict[str, Any]]) -> Rendered:
    return render(values_set[1])  # type: ignore[no-any-return]


def container(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The single container of a pod spec."""
    containers = pod_spec["containers"]
    assert len(containers) == 1, [c["name"] for c in containers]
    return dict(containers[0])


def env_names(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container(pod_spec).get("env", [])}


def container_ports(pod_spec: Mapping[str, Any]) -> dict[str, int]:
    """Named container ports of a pod spec."""
    return {p["name"]: p["containerPort"] for p in container(pod_spec).get("ports", [])}
