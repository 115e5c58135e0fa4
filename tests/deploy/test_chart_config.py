"""The config TOML the chart renders, the secrets beside it, and the rollouts they trigger."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    DATABASE_URL,
    FULLNAME,
    JWT_SECRET,
    MINIMAL,
    REPO,
    SHOP,
    Rendered,
    container,
    env_names,
    helm,
    merge,
)


def secret_data(out: Rendered, name: str = FULLNAME) -> dict[str, str]:
    data = out.get("Secret", name)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def pod_annotations(out: Rendered, role: str = "worker") -> dict[str, str]:
    return dict(out.deployments()[role]["spec"]["template"]["metadata"]["annotations"])


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the pod's listeners must bind


def test_rendered_config_opens_the_admin_listener_inside_the_pod(rendered: Rendered) -> None:
    config = tomllib.loads(rendered.config_toml())
    assert config["admin"] == {"host": ALL_INTERFACES, "port": 8081}
    assert config["ingress"]["host"] == ALL_INTERFACES
    assert config["ingress"]["port"] == 8080


def test_rendered_config_leaves_migrations_to_the_hook(rendered: Rendered) -> None:
    database = tomllib.loads(rendered.config_toml())["database"]
    assert database["migrate_on_start"] is False
    assert database["data_dir"] == "/var/lib/webhook-gateway"
    assert "url" not in database


def test_rendered_config_carries_the_values_with_their_types(render: Any) -> None:
    values = merge(
        MINIMAL,
        {
            "config": {
                "delivery": {
                    "grace_seconds": 12.5,
                    "max_attempts": 8,
                    "allowed_private_cidrs": ["10.20.0.0/16"],
                },
                "writer": {"batch_max": 128, "batch_wait_ms": 1.5},
                "api": {"jwt_issuer": "platform"},
                "log": {"level": "DEBUG"},
            }
        },
    )
    config = tomllib.loads(render(values).config_toml())
    assert config["delivery"]["grace_seconds"] == 12.5
    assert config["delivery"]["max_attempts"] == 8
    assert isinstance(config["delivery"]["max_attempts"], int)
    assert config["delivery"]["allowed_private_cidrs"] == ["10.20.0.0/16"]
    assert config["writer"] == {"batch_max": 128, "batch_wait_ms": 1.5}
    assert config["api"] == {"jwt_issuer": "platform"}
    assert config["log"]["level"] == "DEBUG"


def test_source_secrets_reach_the_program_only_through_the_environment(render: Any) -> None:
    out = render(merge(MINIMAL, {"sources": [SHOP]}))
    assert "shpss_example" not in out.config_toml()
    (source,) = tomllib.loads(out.config_toml())["sources"]
    assert source == {
        "name": "shop",
        "scheme": "shopify",
        "secret": "${GATEWAY_SOURCE_SHOP_SECRET}",
        "event_id": "X-Shopify-Webhook-Id",
        "event_type": "X-Shopify-Topic",
    }
    assert secret_data(out)["GATEWAY_SOURCE_SHOP_SECRET"] == "shpss_example"
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_SOURCE_SHOP_SECRET"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "GATEWAY_SOURCE_SHOP_SECRET"


def test_source_names_with_dashes_become_valid_variable_names(render: Any) -> None:
    source = {"name": "my-shop", "scheme": "github", "secrets": ["new", "${OLD_GITHUB_SECRET}"]}
    out = render(merge(MINIMAL, {"sources": [source]}))
    (rendered_source,) = tomllib.loads(out.config_toml())["sources"]
    assert rendered_source["secrets"] == [
        "${GATEWAY_SOURCE_MY_SHOP_SECRET_1}",
        "${OLD_GITHUB_SECRET}",
    ]
    assert secret_data(out)["GATEWAY_SOURCE_MY_SHOP_SECRET_1"] == "new"


def test_unsigned_sources_need_no_secret(render: Any) -> None:
    out = render(merge(MINIMAL, {"sources": [{"name": "internal", "scheme": "none"}]}))
    (source,) = tomllib.loads(out.config_toml())["sources"]
    assert source == {"name": "internal", "scheme": "none"}


SP_API = {
    "name": "amazon",
    "scheme": "amazon-sp-api",
    "receive": {
        "kind": "sqs",
        "broker": "aws",
        "queue_url": "https://sqs.eu-central-1.amazonaws.com/123456789012/sp-api",
        "max_in_flight": 20,
    },
}


def test_an_sp_api_source_reads_its_queue_and_needs_no_secret(render: Any) -> None:
    out = render(merge(MINIMAL, {"sources": [SP_API]}))
    (source,) = tomllib.loads(out.config_toml())["sources"]
    assert source == SP_API


def test_a_signed_source_without_a_secret_is_refused(render: Any) -> None:
    values = merge(MINIMAL, {"sources": [{"name": "gh", "scheme": "github"}]})
    with pytest.raises(helm.HelmError, match="needs a secret"):
        render(values)


WAREHOUSE = {
    "name": "Warehouse DE",
    "url": "https://wms-de.example.com/orders",
    "secret": "whsec_" + base64.b64encode(b"w" * 24).decode(),
    "sources": ["shop"],
    "event_types": ["orders/*"],
    "max_attempts": 5,
    "filter": {"body": {"shipping_address.country_code": {"$in": ["DE", "AT"]}}},
    "transform": {"source": (REPO / "examples/transforms/shopify-orders-create.js").read_text()},
}


def test_subscriber_secrets_reach_the_program_only_through_the_environment(
    render: Any,
) -> None:
    out = render(merge(MINIMAL, {"sources": [SHOP], "subscribers": [WAREHOUSE]}))
    assert WAREHOUSE["secret"] not in out.config_toml()
    (subscriber,) = tomllib.loads(out.config_toml())["subscribers"]
    assert subscriber == {
        **WAREHOUSE,
        "secret": "${GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET}",
    }
    assert secret_data(out)["GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET"] == WAREHOUSE["secret"]
    for _, spec in out.pod_specs():
        names = env_names(spec)
        ref = names["GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET"


def test_a_subscriber_without_a_secret_is_refused(render: Any) -> None:
    subscriber = {k: v for k, v in WAREHOUSE.items() if k != "secret"}
    with pytest.raises(helm.HelmError, match=r"Warehouse DE.*needs a secret"):
        render(merge(MINIMAL, {"subscribers": [subscriber]}))


def test_a_subscriber_secret_can_come_from_an_existing_secret(render: Any) -> None:
    subscriber = {k: v for k, v in WAREHOUSE.items() if k != "secret"}
    out = render({"existingSecret": "gateway-secrets", "subscribers": [subscriber]})
    (rendered,) = tomllib.loads(out.config_toml())["subscribers"]
    assert rendered["secret"] == "${GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET}"
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_SUBSCRIBER_WAREHOUSE_DE_SECRET"]["valueFrom"]
        assert ref["secretKeyRef"]["name"] == "gateway-secrets"


def test_two_subscribers_mapping_to_one_variable_are_refused(render: Any) -> None:
    twins = [WAREHOUSE, dict(WAREHOUSE, name="warehouse-de")]
    with pytest.raises(helm.HelmError, match="both map to the environment variable"):
        render(merge(MINIMAL, {"subscribers": twins}))


def test_database_url_and_jwt_key_come_from_the_chart_secret(render: Any) -> None:
    out = render(MINIMAL)
    data = secret_data(out)
    link_key = data.pop("GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET")
    assert data == {"GATEWAY_DATABASE__URL": DATABASE_URL, "GATEWAY_API__JWT_SECRET": JWT_SECRET}
    assert len(link_key) == 64  # one key for every pod, so a link made by one is valid on all
    env = env_names(out.deployments()["worker"]["spec"]["template"]["spec"])
    for name in ("GATEWAY_DATABASE__URL", "GATEWAY_API__JWT_SECRET"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": FULLNAME, "key": name}
    link_ref = env["GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert link_ref == {
        "name": FULLNAME,
        "key": "GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET",
        "optional": False,
    }
    assert env["GATEWAY_CONFIG"]["value"] == "/etc/webhook-gateway/config.toml"


def test_a_jwt_key_is_generated_when_none_is_given(render: Any) -> None:
    out = render({"database": {"url": DATABASE_URL}})
    assert len(secret_data(out)["GATEWAY_API__JWT_SECRET"]) == 64


def test_existing_secret_replaces_the_chart_secret(render: Any) -> None:
    values = {"existingSecret": "gateway-secrets", "sources": [{"name": "gh", "scheme": "github"}]}
    out = render(values)
    assert out.kind("Secret") == []
    (source,) = tomllib.loads(out.config_toml())["sources"]
    assert source["secret"] == "${GATEWAY_SOURCE_GH_SECRET}"
    for _, spec in out.pod_specs():
        for name, entry in env_names(spec).items():
            if "valueFrom" in entry:
                ref = dict(entry["valueFrom"]["secretKeyRef"])
                assert ref.pop("optional", name == "GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET") is (
                    name == "GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET"
                )
                assert ref == {"name": "gateway-secrets", "key": name}


def test_database_url_can_come_from_a_cloudnativepg_secret(render: Any) -> None:
    out = render({"database": {"existingSecret": "pg-app"}, "api": {"jwtSecret": JWT_SECRET}})
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_DATABASE__URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "pg-app", "key": "uri"}
    assert "GATEWAY_DATABASE__URL" not in secret_data(out)


def test_a_plain_source_secret_with_an_existing_secret_is_refused(render: Any) -> None:
    with pytest.raises(helm.HelmError, match="existingSecret is set"):
        render({"existingSecret": "gateway-secrets", "sources": [SHOP]})


def test_two_sources_mapping_to_one_variable_are_refused(render: Any) -> None:
    sources = [dict(SHOP, name="a-b"), dict(SHOP, name="a_b")]
    with pytest.raises(helm.HelmError, match="both map to the environment variable"):
        render(merge(MINIMAL, {"sources": sources}))


def test_checksum_annotations_change_when_the_config_changes(render: Any) -> None:
    before = pod_annotations(render(MINIMAL))
    after = pod_annotations(render(merge(MINIMAL, {"config": {"log": {"level": "DEBUG"}}})))
    assert before["checksum/config"] != after["checksum/config"]
    assert before["checksum/secret"] == after["checksum/secret"]


def test_checksum_annotations_change_when_a_secret_changes(render: Any) -> None:
    before = pod_annotations(render(merge(MINIMAL, {"sources": [SHOP]})))
    rotated = merge(MINIMAL, {"sources": [dict(SHOP, secret="shpss_rotated")]})
    after = pod_annotations(render(rotated))
    assert before["checksum/secret"] != after["checksum/secret"]
    assert before["checksum/config"] == after["checksum/config"]
    moved = pod_annotations(render(merge(MINIMAL, {"database": {"url": DATABASE_URL + "2"}})))
    assert moved["checksum/secret"] != pod_annotations(render(MINIMAL))["checksum/secret"]


def test_checksum_annotations_are_stable_when_nothing_changes(render: Any) -> None:
    assert pod_annotations(render(MINIMAL)) == pod_annotations(render(MINIMAL))


def test_every_role_rolls_on_the_same_checksums(rendered: Rendered) -> None:
    seen = {
        role: {
            k: v for k, v in pod_annotations(rendered, role).items() if k.startswith("checksum/")
        }
        for role in rendered.deployments()
    }
    assert len({tuple(sorted(a.items())) for a in seen.values()}) == 1


def test_rendered_config_is_accepted_by_the_program(render: Any, tmp_path: Path) -> None:
    config_module = pytest.importorskip("gateway.config")
    values = merge(
        MINIMAL,
        {
            "sources": [
                SHOP,
                {"name": "gh", "scheme": "github", "secrets": ["a", "b"]},
                {"name": "open", "scheme": "none"},
                SP_API,
            ],
            "subscribers": [WAREHOUSE, ERP],
            "brokers": [RABBIT, AWS],
            "config": {"delivery": {"grace_seconds": 20, "allowed_private_cidrs": ["10.0.0.0/8"]}},
        },
    )
    out = render(values)
    path = tmp_path / "config.toml"
    path.write_text(out.config_toml())
    spec = out.deployments()["worker"]["spec"]["template"]["spec"]
    stored = secret_data(out)
    env = {
        name: entry.get("value") or stored[entry["valueFrom"]["secretKeyRef"]["key"]]
        for name, entry in env_names(spec).items()
    }
    env["GATEWAY_DATABASE__DATA_DIR"] = "/var/lib/webhook-gateway"  # set by the image
    config = config_module.load_config(path, env=env)
    assert config.admin.host == ALL_INTERFACES
    assert config.database.url == DATABASE_URL
    assert config.database.migrate_on_start is False
    assert config.api.jwt_secret == JWT_SECRET
    assert config.delivery.grace_seconds == 20.0
    assert config.source("shop").secret == "shpss_example"
    assert config.source("gh").secrets == ("a", "b")
    subscriber, erp = config.subscribers
    assert subscriber.secret == WAREHOUSE["secret"]
    assert subscriber.event_types == ["orders/*"]
    assert subscriber.filter == WAREHOUSE["filter"]
    assert subscriber.transform is not None
    assert subscriber.transform.source == WAREHOUSE["transform"]["source"]
    assert container(spec)["args"][-2:] == ["--role", "worker"]
    rabbit, aws = config.brokers
    assert (rabbit.kind, rabbit.url) == ("amqp", RABBIT["url"])
    receive = config.source("amazon").receive
    assert receive is not None and (receive.kind, receive.broker) == ("sqs", "aws")
    assert (aws.kind, aws.region) == ("sqs", "eu-central-1")
    assert erp.url is None and erp.destination is not None
    assert (erp.destination.kind, erp.destination.broker) == ("amqp", "rabbit")
    assert erp.destination.routing_key == "erp.{type}"


ERP = {
    "name": "erp",
    "secret": "whsec_" + "C" * 32,
    "destination": {"kind": "amqp", "broker": "rabbit", "routing_key": "erp.{type}"},
}
RABBIT = {"name": "rabbit", "kind": "amqp", "url": "amqp://wms:s3cret@rabbitmq:5672/wms"}
AWS = {"name": "aws", "kind": "sqs", "region": "eu-central-1"}


def test_a_brokers_url_reaches_the_program_only_through_the_environment(render: Any) -> None:
    out = render(merge(MINIMAL, {"brokers": [RABBIT, AWS]}))
    assert "s3cret" not in out.config_toml()
    rabbit, aws = tomllib.loads(out.config_toml())["brokers"]
    assert rabbit == {**RABBIT, "url": "${GATEWAY_BROKER_RABBIT_URL}"}
    assert aws == AWS
    assert secret_data(out)["GATEWAY_BROKER_RABBIT_URL"] == RABBIT["url"]
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_BROKER_RABBIT_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "GATEWAY_BROKER_RABBIT_URL"


def test_a_brokers_url_can_come_from_a_secret_the_cluster_already_has(render: Any) -> None:
    broker = {"name": "rabbit", "kind": "amqp", "urlSecret": {"name": "rmq", "key": "uri"}}
    out = render(merge(MINIMAL, {"brokers": [broker]}))
    (rendered,) = tomllib.loads(out.config_toml())["brokers"]
    assert rendered == {"name": "rabbit", "kind": "amqp", "url": "${GATEWAY_BROKER_RABBIT_URL}"}
    assert "GATEWAY_BROKER_RABBIT_URL" not in secret_data(out)
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_BROKER_RABBIT_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "rmq", "key": "uri"}


def test_with_an_existing_secret_a_brokers_url_is_read_from_it(render: Any) -> None:
    broker = {"name": "rabbit", "kind": "amqp"}
    out = render({"existingSecret": "gateway-secrets", "brokers": [broker]})
    (rendered,) = tomllib.loads(out.config_toml())["brokers"]
    assert rendered["url"] == "${GATEWAY_BROKER_RABBIT_URL}"
    for _, spec in out.pod_specs():
        ref = env_names(spec)["GATEWAY_BROKER_RABBIT_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "gateway-secrets", "key": "GATEWAY_BROKER_RABBIT_URL"}


@pytest.mark.parametrize(
    ("broker", "message"),
    [
        ({"name": "rabbit", "kind": "amqp"}, r"\"rabbit\" \(amqp\) needs a url"),
        ({**AWS, "url": "https://sqs.eu-central-1.amazonaws.com"}, r"\"aws\" \(sqs\) takes no url"),
        (
            {**RABBIT, "urlSecret": {"name": "rmq", "key": "uri"}},
            r"\"rabbit\" sets both url and urlSecret",
        ),
    ],
)
def test_a_broker_whose_url_cannot_be_placed_is_refused(
    render: Any, broker: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(merge(MINIMAL, {"brokers": [broker]}))


def test_the_service_account_carries_the_irsa_role_for_sqs_brokers(render: Any) -> None:
    role = "arn:aws:iam::123456789012:role/webhook-gateway"
    values = {
        "brokers": [AWS],
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role}},
    }
    out = render(merge(MINIMAL, values))
    account = out.get("ServiceAccount", FULLNAME)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    for deployment in out.deployments().values():
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == FULLNAME
