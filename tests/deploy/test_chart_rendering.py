"""The chart lints, renders valid Kubernetes objects, and wires roles, Services and routes."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from .conftest import (
    ADMIN_PORT,
    CHART_DIR,
    CRD_KINDS,
    FULLNAME,
    KUBE_VERSIONS,
    MINIMAL,
    PUBLIC_PORT,
    Rendered,
    container,
    container_ports,
    helm,
    merge,
)

WARNING = 2


def test_chart_lints_without_warnings(values_set: tuple[str, dict[str, Any]]) -> None:
    report = helm.lint(CHART_DIR, values_set[1], strict=True)
    findings = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert findings == []
    assert report["errors"] == []


def test_chart_lints_with_its_own_defaults() -> None:
    report = helm.lint(CHART_DIR, strict=True)
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


def test_every_rendered_manifest_is_a_valid_kubernetes_object(rendered: Rendered) -> None:
    assert rendered.docs
    for doc in rendered.docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            assert doc["metadata"]["name"]
            assert isinstance(doc["spec"], dict)
            continue
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_every_object_carries_the_standard_labels(rendered: Rendered) -> None:
    for doc in rendered.docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "webhook-gateway"
        assert labels["app.kubernetes.io/instance"] == "gw"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_split_mode_runs_separate_ingress_and_worker_deployments(render: Any) -> None:
    deployments = render(MINIMAL).deployments()
    assert set(deployments) == {"ingress", "worker"}
    for role, deployment in deployments.items():
        args = container(deployment["spec"]["template"]["spec"])["args"]
        assert args[0] == "serve"
        assert args[args.index("--role") + 1] == role
        assert args[args.index("--config") + 1] == "/etc/webhook-gateway/config.toml"


def test_roles_scale_independently(render: Any) -> None:
    values = merge(MINIMAL, {"roles": {"ingress": {"replicas": 5}, "worker": {"replicas": 3}}})
    deployments = render(values).deployments()
    assert deployments["ingress"]["spec"]["replicas"] == 5
    assert deployments["worker"]["spec"]["replicas"] == 3


def test_all_mode_runs_a_single_deployment_with_every_role(render: Any) -> None:
    out = render(merge(MINIMAL, {"mode": "all"}))
    deployments = out.deployments()
    assert set(deployments) == {"all"}
    args = container(deployments["all"]["spec"]["template"]["spec"])["args"]
    assert args[args.index("--role") + 1] == "all"
    assert out.get("Service", FULLNAME)["spec"]["selector"]["app.kubernetes.io/component"] == "all"
    admin = out.get("Service", f"{FULLNAME}-admin")
    assert admin["spec"]["selector"]["app.kubernetes.io/component"] == "all"


def test_admin_api_runs_beside_the_workers_by_default(render: Any) -> None:
    admin = render(MINIMAL).get("Service", f"{FULLNAME}-admin")
    assert admin["spec"]["selector"]["app.kubernetes.io/component"] == "worker"


def test_admin_api_gets_its_own_role_when_enabled(render: Any) -> None:
    out = render(merge(MINIMAL, {"roles": {"api": {"enabled": True}}}))
    assert set(out.deployments()) == {"ingress", "worker", "api"}
    admin = out.get("Service", f"{FULLNAME}-admin")
    assert admin["spec"]["selector"]["app.kubernetes.io/component"] == "api"
    assert f"deploy/{FULLNAME}-api" in out.notes()


def test_notes_count_the_postgres_connections_of_every_role_at_their_most(render: Any) -> None:
    notes = render(MINIMAL).notes()
    # pool_max 10, plus the writer's 4 on the ingress, plus one LISTEN and the claims'
    # and settlements' 2 on the workers; 2 replicas each, 3 while a rolling update surges.
    assert "ingress: 14 per pod x 3 pods = 42" in notes
    assert "worker: 13 per pod x 3 pods = 39" in notes
    assert "in all: 81, and 1 for the migrations Job." in notes
    assert "max_connections" not in notes


def test_notes_warn_when_autoscaled_pools_outgrow_postgres_default_limit(render: Any) -> None:
    out = render(
        merge(
            MINIMAL,
            {
                "roles": {"ingress": {"autoscaling": {"enabled": True, "maxReplicas": 8}}},
                "config": {"database": {"pool_max": 20}, "writer": {"max_in_flight": 8}},
            },
        )
    )
    notes = out.notes()
    assert "ingress: 28 per pod x 10 pods = 280" in notes
    assert "worker: 23 per pod x 3 pods = 69" in notes
    assert "in all: 349" in notes
    assert "max_connections" in notes


def test_notes_count_one_deployment_in_mode_all(render: Any) -> None:
    notes = render(merge(MINIMAL, {"mode": "all"})).notes()
    assert "all: 17 per pod x 2 pods = 34" in notes
    assert "in all: 34" in notes


def test_only_pods_serving_the_public_role_declare_the_public_port(rendered: Rendered) -> None:
    for role, deployment in rendered.deployments().items():
        ports = container_ports(deployment["spec"]["template"]["spec"])
        assert ports["admin"] == ADMIN_PORT
        if role in {"ingress", "all"}:
            assert ports == {"http": PUBLIC_PORT, "admin": ADMIN_PORT}
        else:
            assert ports == {"admin": ADMIN_PORT}


def test_public_service_never_exposes_the_admin_port(rendered: Rendered) -> None:
    public = rendered.get("Service", FULLNAME)
    assert public["spec"]["selector"]["app.kubernetes.io/component"] in {"ingress", "all"}
    ports = public["spec"]["ports"]
    assert ports == [{"name": "http", "port": PUBLIC_PORT, "targetPort": "http", "protocol": "TCP"}]


def test_public_service_never_exposes_the_admin_port_even_as_a_load_balancer(
    render: Any,
) -> None:
    values = merge(MINIMAL, {"service": {"type": "LoadBalancer"}, "mode": "all"})
    public = render(values).get("Service", FULLNAME)
    assert public["spec"]["type"] == "LoadBalancer"
    assert [p["port"] for p in public["spec"]["ports"]] == [PUBLIC_PORT]


def test_admin_service_is_cluster_internal_and_only_on_the_admin_port(
    rendered: Rendered,
) -> None:
    admin = rendered.get("Service", f"{FULLNAME}-admin")
    assert admin["spec"]["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in admin["spec"]["ports"]] == [(ADMIN_PORT, "admin")]


def test_no_service_but_the_admin_ones_reaches_the_admin_port(rendered: Rendered) -> None:
    for service in rendered.kind("Service"):
        if service["metadata"]["name"] == FULLNAME:
            continue
        assert service["spec"]["type"] == "ClusterIP"
        assert {p["targetPort"] for p in service["spec"]["ports"]} == {"admin"}


def test_ingress_and_http_route_reach_only_the_public_service_port(rendered: Rendered) -> None:
    for ingress in rendered.kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"] == {"name": FULLNAME, "port": {"name": "http"}}
    for route in rendered.kind("HTTPRoute"):
        for rule in route["spec"]["rules"]:
            assert rule["backendRefs"] == [{"name": FULLNAME, "port": PUBLIC_PORT}]


def test_ingress_terminates_tls_for_its_hosts(render: Any) -> None:
    from .conftest import VALUES_SETS

    out = render(VALUES_SETS["tls-ingress"])
    ingress = out.get("Ingress", FULLNAME)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "hooks-tls", "hosts": ["hooks.example.com"]}]
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["hooks.example.com"]
    route = out.get("HTTPRoute", FULLNAME)
    assert route["spec"]["hostnames"] == ["hooks.example.com"]
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert "https://hooks.example.com/v1/<source>" in out.notes().replace("//v1", "/v1")


def test_no_ingress_or_route_is_rendered_unless_enabled(render: Any) -> None:
    out = render(MINIMAL)
    assert out.kind("Ingress") == []
    assert out.kind("HTTPRoute") == []


def test_network_policy_keeps_the_admin_port_to_the_allowed_peers(rendered: Rendered) -> None:
    (policy,) = rendered.kind("NetworkPolicy")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"]["webhook-gateway/server"] == "true"
    for rule in spec["ingress"]:
        ports = {p["port"] for p in rule["ports"]}  # a rule without ports would open them all
        if ADMIN_PORT in ports:
            assert ports == {ADMIN_PORT}
            assert rule["from"] == [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ]
        else:
            assert ports == {PUBLIC_PORT}


def test_network_policy_without_admin_peers_lets_nobody_reach_the_admin_port(
    render: Any,
) -> None:
    values = merge(MINIMAL, {"networkPolicy": {"admin": {"from": []}}})
    (policy,) = render(values).kind("NetworkPolicy")
    assert [{p["port"] for p in rule["ports"]} for rule in policy["spec"]["ingress"]] == [
        {PUBLIC_PORT}
    ]


def test_network_policy_can_narrow_the_public_port_to_the_ingress_controller(
    render: Any,
) -> None:
    controller = {"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}
    values = merge(MINIMAL, {"networkPolicy": {"public": {"from": [controller]}}})
    (policy,) = render(values).kind("NetworkPolicy")
    public_rule = policy["spec"]["ingress"][0]
    assert public_rule["ports"] == [{"port": PUBLIC_PORT, "protocol": "TCP"}]
    assert public_rule["from"] == [controller]


def test_autoscaling_replaces_fixed_replicas_with_an_hpa_per_role(render: Any) -> None:
    from .conftest import VALUES_SETS

    out = render(VALUES_SETS["autoscaling"])
    deployments = out.deployments()
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in out.kind("HorizontalPodAutoscaler")}
    assert set(hpas) == {f"{FULLNAME}-ingress", f"{FULLNAME}-worker"}
    assert "replicas" not in deployments["ingress"]["spec"]
    assert "replicas" not in deployments["worker"]["spec"]
    assert hpas[f"{FULLNAME}-ingress"]["spec"]["maxReplicas"] == 6
    worker_metrics = {m["resource"]["name"] for m in hpas[f"{FULLNAME}-worker"]["spec"]["metrics"]}
    assert worker_metrics == {"cpu", "memory"}


def test_disruption_budgets_cover_every_role(rendered: Rendered) -> None:
    budgets = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]: b
        for b in rendered.kind("PodDisruptionBudget")
    }
    assert set(budgets) == set(rendered.deployments())
    for budget in budgets.values():
        assert budget["spec"]["maxUnavailable"] == 1


def test_pods_spread_across_zones_and_nodes(rendered: Rendered) -> None:
    for role, deployment in rendered.deployments().items():
        constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        keys = {c["topologyKey"] for c in constraints}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in constraints:
            selector = constraint["labelSelector"]["matchLabels"]
            assert selector["app.kubernetes.io/component"] == role


def test_missing_database_url_is_refused(render: Any) -> None:
    with pytest.raises(helm.HelmError, match="database URL is required"):
        render({})


# Documented as a whole (roles.<role>.*, config.<section>.*, the security contexts).
WHOLE_VALUES = {"roles", "config", "podSecurityContext", "securityContext"}


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    for key, value in values.items():
        assert f"`{key}" in readme, key
        if isinstance(value, dict) and key not in WHOLE_VALUES:
            for sub in value:  # a row names `key.sub`, or `sub` after a `key.first` / …
                assert f"`{key}.{sub}" in readme or f"/ `{sub}`" in readme, f"{key}.{sub}"
