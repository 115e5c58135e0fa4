"""deploy/prometheus/alerts.yaml and the chart's PrometheusRule are the same rules."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .conftest import MINIMAL, REPO, merge

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "webhook-gateway.json"


def _normalized(rule: dict[str, Any]) -> dict[str, Any]:
    return {**rule, "expr": " ".join(rule["expr"].split())}


def test_the_standalone_alert_file_matches_the_charts_rules(render: Any) -> None:
    values = merge(
        MINIMAL,
        {"metrics": {"prometheusRule": {"enabled": True, "selector": 'job="webhook-gateway"'}}},
    )
    (rule,) = render(values).kind("PrometheusRule")
    (chart_group,) = rule["spec"]["groups"]
    (file_group,) = yaml.safe_load(ALERTS.read_text())["groups"]

    assert [_normalized(r) for r in file_group["rules"]] == [
        _normalized(r) for r in chart_group["rules"]
    ]


def test_the_dashboard_queries_one_data_source_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert 'job=~"$job"' in target["expr"], panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
