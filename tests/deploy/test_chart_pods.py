"""Pods: locked down, probed on the admin port, drained in time; migrations run as a hook."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    ADMIN_PORT,
    FULLNAME,
    MINIMAL,
    Rendered,
    container,
    env_names,
    helm,
    merge,
)

UID = 10001
HOOK_EVENTS = "pre-install,pre-upgrade"


def test_pods_run_as_non_root_with_a_read_only_root_and_no_capabilities(
    rendered: Rendered,
) -> None:
    specs = dict(rendered.pod_specs())
    assert specs
    for where, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] == UID, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        ctx = container(spec)["securityContext"]
        assert ctx["runAsNonRoot"] is True, where
        assert ctx["runAsUser"] == UID, where
        assert ctx["readOnlyRootFilesystem"] is True, where
        assert ctx["allowPrivilegeEscalation"] is False, where
        assert ctx["capabilities"] == {"drop": ["ALL"]}, where
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where


def test_pods_get_writable_scratch_space_despite_the_read_only_root(rendered: Rendered) -> None:
    for where, spec in rendered.pod_specs():
        mounts = {m["mountPath"]: m["name"] for m in container(spec)["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for path in ("/tmp", "/var/lib/webhook-gateway"):
            assert "emptyDir" in volumes[mounts[path]], (where, path)
        config = volumes[mounts["/etc/webhook-gateway"]]
        assert config["configMap"]["items"] == [{"key": "config.toml", "path": "config.toml"}]


def test_probes_point_at_healthz_and_readyz_on_the_admin_port(rendered: Rendered) -> None:
    for role, deployment in rendered.deployments().items():
        gateway = container(deployment["spec"]["template"]["spec"])
        admin = {p["name"]: p["containerPort"] for p in gateway["ports"]}["admin"]
        assert admin == ADMIN_PORT
        assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, role
        assert gateway["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, role
        assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}, role


def test_every_role_has_resource_requests(rendered: Rendered) -> None:
    for role, deployment in rendered.deployments().items():
        resources = container(deployment["spec"]["template"]["spec"])["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), role
        assert "memory" in resources["limits"], role


def test_termination_grace_period_outlasts_the_programs_drain(rendered: Rendered) -> None:
    for role, deployment in rendered.deployments().items():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] == 35, role  # 25 s drain + 10 s margin
        pre_stop = container(spec).get("lifecycle", {}).get("preStop")
        if pre_stop:
            sleep = int(pre_stop["exec"]["command"][1])
            assert 25 + sleep < spec["terminationGracePeriodSeconds"], role


def test_termination_grace_period_follows_the_configured_drain(render: Any) -> None:
    values = merge(MINIMAL, {"config": {"delivery": {"grace_seconds": 50.5}}})
    for deployment in render(values).deployments().values():
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 61


def test_a_grace_period_shorter_than_the_drain_is_refused(render: Any) -> None:
    values = merge(MINIMAL, {"terminationGracePeriodSeconds": 20})
    with pytest.raises(helm.HelmError, match=r"longer than config\.delivery\.grace_seconds"):
        render(values)


def test_ingress_pods_keep_serving_briefly_while_load_balancers_let_go(render: Any) -> None:
    deployments = render(MINIMAL).deployments()
    ingress = container(deployments["ingress"]["spec"]["template"]["spec"])
    assert ingress["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert "lifecycle" not in container(deployments["worker"]["spec"]["template"]["spec"])


def test_rollouts_never_take_a_pod_away_before_its_replacement_is_ready(
    rendered: Rendered,
) -> None:
    for deployment in rendered.deployments().values():
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_migrations_hook_job_runs_migrate_before_install_and_upgrade(rendered: Rendered) -> None:
    (job,) = rendered.kind("Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == HOOK_EVENTS
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert container(spec)["args"] == ["migrate", "--config", "/etc/webhook-gateway/config.toml"]
    assert "GATEWAY_DATABASE__URL" in env_names(spec)


def test_migrations_job_brings_its_config_secret_and_account_as_earlier_hooks(
    render: Any,
) -> None:
    out = render(MINIMAL)
    (job,) = out.kind("Job")
    job_weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    spec = job["spec"]["template"]["spec"]
    config_map = next(v for v in spec["volumes"] if v["name"] == "config")["configMap"]["name"]
    secret = env_names(spec)["GATEWAY_DATABASE__URL"]["valueFrom"]["secretKeyRef"]["name"]
    needed = [
        out.get("ConfigMap", config_map),
        out.get("Secret", secret),
        out.get("ServiceAccount", spec["serviceAccountName"]),
    ]
    for obj in needed:
        annotations = obj["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == HOOK_EVENTS, obj["kind"]
        assert int(annotations["helm.sh/hook-weight"]) < job_weight, obj["kind"]
    assert out.get("ConfigMap", config_map)["data"] == out.get("ConfigMap", FULLNAME)["data"]


def test_migrations_job_does_not_get_the_admin_api_key(render: Any) -> None:
    (job,) = render(MINIMAL).kind("Job")
    assert "GATEWAY_API__JWT_SECRET" not in env_names(job["spec"]["template"]["spec"])


def test_migrations_job_reads_an_existing_secret_directly(render: Any) -> None:
    out = render({"existingSecret": "gateway-secrets"})
    (job,) = out.kind("Job")
    url = env_names(job["spec"]["template"]["spec"])["GATEWAY_DATABASE__URL"]
    assert url["valueFrom"]["secretKeyRef"] == {
        "name": "gateway-secrets",
        "key": "GATEWAY_DATABASE__URL",
    }
    assert out.kind("Secret") == []


def test_migrations_can_be_left_to_the_operator(render: Any) -> None:
    out = render(merge(MINIMAL, {"migrations": {"enabled": False}}))
    assert out.kind("Job") == []
    assert [c["metadata"]["name"] for c in out.kind("ConfigMap")] == [FULLNAME]


def test_server_pods_never_carry_helm_hook_annotations(rendered: Rendered) -> None:
    for doc in rendered.docs:
        if doc["kind"] in {"Deployment", "Service", "ConfigMap", "Secret"} and doc["metadata"][
            "name"
        ] in {FULLNAME, f"{FULLNAME}-admin"}:
            assert "helm.sh/hook" not in doc["metadata"].get("annotations", {})


def test_migrations_job_uses_a_service_account_the_operator_provides(render: Any) -> None:
    out = render(merge(MINIMAL, {"serviceAccount": {"create": False, "name": "gateway-sa"}}))
    (job,) = out.kind("Job")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "gateway-sa"
    assert out.kind("ServiceAccount") == []
    for deployment in out.kind("Deployment"):
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "gateway-sa"


def test_tracing_values_set_the_standard_opentelemetry_variables(render: Any) -> None:
    tracing = {"enabled": True, "endpoint": "http://otel-collector:4317", "samplingRatio": 0.25}
    for deployment in render(merge(MINIMAL, {"tracing": tracing})).deployments().values():
        env = env_names(deployment["spec"]["template"]["spec"])
        assert env["GATEWAY_TRACING__ENABLED"]["value"] == "true"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector:4317"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "grpc"
        assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.25"
        assert env["OTEL_SERVICE_NAME"]["value"]


def test_tracing_is_off_and_sets_no_variable_by_default(render: Any) -> None:
    for deployment in render(MINIMAL).deployments().values():
        env = env_names(deployment["spec"]["template"]["spec"])
        assert not {n for n in env if n.startswith(("OTEL_", "GATEWAY_TRACING__"))}
