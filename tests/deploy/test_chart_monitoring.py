"""Optional ServiceMonitor and PrometheusRule."""

from __future__ import annotations

from typing import Any

from .conftest import FULLNAME, MINIMAL, VALUES_SETS, merge

METRIC_NAMES = {
    "gateway_ingest_requests_total",
    "gateway_ack_latency_seconds",
    "gateway_delivery_attempts_total",
    "gateway_deliveries_backlog",
    "gateway_subscriber_disabled",
    "gateway_delivery_dead_total",
    "gateway_retention_runs_total",
    "gateway_source_up",
    "gateway_source_messages_total",
}


def rules(out: Any) -> dict[str, dict[str, Any]]:
    (rule,) = out.kind("PrometheusRule")
    (group,) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_monitoring_objects_are_absent_unless_enabled(render: Any) -> None:
    out = render(MINIMAL)
    assert out.kind("ServiceMonitor") == []
    assert out.kind("PrometheusRule") == []
    assert "prometheus.io/scrape" not in str(out.kind("Deployment"))


def test_service_monitor_scrapes_every_server_pod_on_the_admin_port(render: Any) -> None:
    out = render(VALUES_SETS["monitoring"])
    (monitor,) = out.kind("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "admin"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    service = out.get("Service", f"{FULLNAME}-metrics")
    assert service["spec"]["clusterIP"] == "None"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    selector = service["spec"]["selector"]
    assert selector["webhook-gateway/server"] == "true"
    assert "app.kubernetes.io/component" not in selector  # every role, not one
    for deployment in out.kind("Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "8081"


def test_prometheus_rules_cover_the_operational_alerts(render: Any) -> None:
    alerts = rules(render(VALUES_SETS["monitoring"]))
    assert set(alerts) == {
        "WebhookGatewayDeliveryFailureRatioHigh",
        "WebhookGatewayBacklogGrowing",
        "WebhookGatewayDeadLetters",
        "WebhookGatewaySubscriberDisabled",
        "WebhookGatewayIngestErrors",
        "WebhookGatewayAckLatencyHigh",
        "WebhookGatewayRetentionFailing",
        "WebhookGatewaySourceUnreachable",
        "WebhookGatewaySourcePoison",
    }
    expressions = " ".join(rule["expr"] for rule in alerts.values())
    for metric in METRIC_NAMES:
        assert metric in expressions
    assert 'namespace="webhooks"' in expressions
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert "{{" in rule["annotations"]["summary"]  # Prometheus templating survived Helm


def test_prometheus_rules_follow_renamed_metrics_and_thresholds(render: Any) -> None:
    values = merge(
        VALUES_SETS["monitoring"],
        {
            "metrics": {
                "names": {"ackLatency": "gw_ack_seconds"},
                "prometheusRule": {"thresholds": {"ackLatencyP99Seconds": 0.25}},
            }
        },
    )
    expr = rules(render(values))["WebhookGatewayAckLatencyHigh"]["expr"]
    assert "gw_ack_seconds_bucket" in expr
    assert "gateway_ack_latency_seconds" not in expr
    assert expr.strip().endswith("> 0.25")


def test_metric_names_live_in_one_place() -> None:
    from .conftest import CHART_DIR

    for path in (CHART_DIR / "templates").iterdir():
        text = path.read_text()
        for metric in METRIC_NAMES:
            assert metric not in text, (path.name, metric)
    values = (CHART_DIR / "values.yaml").read_text()
    for metric in METRIC_NAMES:
        assert values.count(metric) == 1, metric
