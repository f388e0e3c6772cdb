"""Self-test of the lab's externalIP admission webhook: allowed, denied, follows the Deployment,
unreachable without pods, never in the loader's way, gone after reset."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lab import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAME,
    WEBHOOK_NAMESPACE,
    ApiError,
    Lab,
    WebhookPolicy,
)

pytestmark = pytest.mark.lab

GLOBALNET = "system:serviceaccount:submariner-operator:submariner-globalnet"
SERVICES = "/api/v1/namespaces/default/services"
DEPLOYMENT = f"/apis/apps/v1/namespaces/{WEBHOOK_NAMESPACE}/deployments/{WEBHOOK_DEPLOYMENT}"
VWCS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


def webhook_deployment(*args: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"control-plane": "webhook"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": WEBHOOK_DEPLOYMENT, "namespace": WEBHOOK_NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "webhook",
                            "image": "k8s.gcr.io/multitenancy/externalip-webhook:v1.0.0",
                            "command": ["/webhook"],
                            "args": list(args),
                        }
                    ]
                },
            },
        },
    }


def service(external_ip: str | None, name: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if external_ip is not None:
        spec["externalIPs"] = [external_ip]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def dry_run_create(lab: Lab, body: dict[str, Any], cluster: str = "member1") -> dict[str, Any]:
    """A server-side dry-run create as the lab's admin (user `admin`): admission runs, nothing
    is stored."""
    return lab.client(cluster).request("POST", SERVICES, body, query={"dryRun": "All"})


def denial(lab: Lab, body: dict[str, Any], cluster: str = "member1") -> tuple[int, str]:
    """The HTTP status and the Status message of a rejected dry-run create."""
    with pytest.raises(ApiError) as denied:
        dry_run_create(lab, body, cluster)
    return denied.value.status, str(json.loads(denied.value.body)["message"])


def test_allowed_user_and_ip_inside_an_allowed_cidr_is_admitted(lab: Lab) -> None:
    lab.apply(
        "member1",
        [
            webhook_deployment(
                "--allowed-external-ip-cidrs=242.0.0.0/16", "--allowed-usernames=admin"
            )
        ],
    )
    dry_run_create(lab, service("242.0.255.253"))
    dry_run_create(lab, service(None))
    reviews = lab.webhook_reviews("member1")
    assert [(r.operation, r.username, r.dry_run, r.allowed) for r in reviews] == [
        ("CREATE", "admin", True, True)
    ] * 2
    stored = {item["metadata"]["name"] for item in lab.client("member1").get(SERVICES)["items"]}
    assert stored == {"kubernetes"}  # dry runs store nothing


def test_an_ip_outside_every_allowed_cidr_is_denied_with_upstreams_message(lab: Lab) -> None:
    lab.apply(
        "member1",
        [
            webhook_deployment(
                "--allowed-external-ip-cidrs=242.1.0.0/16",
                f"--allowed-usernames=admin,{GLOBALNET}",
            )
        ],
    )
    assert denial(lab, service("242.0.255.253")) == (
        403,
        f'admission webhook "{WEBHOOK_NAME}" denied the request: spec.externalIPs: Invalid '
        'value: "242.0.255.253": externalIP specified is not allowed to use',
    )


def test_a_user_outside_the_allowed_usernames_is_denied_whatever_the_ip(lab: Lab) -> None:
    lab.apply(
        "member1",
        [
            webhook_deployment(
                "--allowed-external-ip-cidrs=242.0.0.0/16", f"--allowed-usernames={GLOBALNET}"
            )
        ],
    )
    assert denial(lab, service("242.0.255.253")) == (
        403,
        f'admission webhook "{WEBHOOK_NAME}" denied the request: '
        "user admin is not alllowed to specify externalIP",
    )
    dry_run_create(lab, service(None))  # without externalIPs anyone may create a Service


def test_the_webhook_follows_an_edit_of_its_deployment(lab: Lab) -> None:
    lab.apply(
        "member1",
        [
            webhook_deployment(
                "--allowed-external-ip-cidrs=242.1.0.0/16", "--allowed-usernames=admin"
            )
        ],
    )
    denial(lab, service("242.0.255.253"))
    fixed = webhook_deployment(
        "--allowed-external-ip-cidrs=242.1.0.0/16,242.0.0.0/16", "--allowed-usernames=admin"
    )
    # A merge patch replaces the containers list: send the whole fixed template.
    lab.client("member1").merge_patch(DEPLOYMENT, {"spec": fixed["spec"]})
    dry_run_create(lab, service("242.0.255.253"))


def test_without_a_running_pod_the_apiserver_cannot_call_the_webhook(lab: Lab) -> None:
    lab.apply("member1", [webhook_deployment("--allowed-usernames=admin", replicas=0)])
    status, message = denial(lab, service("242.0.255.253"))
    assert status == 500
    assert f'failed calling webhook "{WEBHOOK_NAME}"' in message


def test_the_loader_is_never_judged_and_other_clusters_are_untouched(lab: Lab) -> None:
    lab.apply("member1", [webhook_deployment("--allowed-external-ip-cidrs=10.0.0.0/8")])
    # The loader's objects carry its label, which the configuration's objectSelector excludes.
    lab.apply("member1", [service("242.0.255.253", name="loaded")])
    # member2 has no webhook Deployment: nothing is registered there.
    dry_run_create(lab, service("242.0.255.253"), cluster="member2")
    assert lab.client("member2").get(VWCS)["items"] == []
    assert {r.cluster for r in lab.webhook_reviews()} <= {"member1"}


def test_reset_unregisters_the_webhook(lab: Lab) -> None:
    lab.apply("member1", [webhook_deployment("--allowed-external-ip-cidrs=10.0.0.0/8")])
    assert [c["metadata"]["name"] for c in lab.client("member1").get(VWCS)["items"]]
    lab.reset()
    assert lab.client("member1").get(VWCS)["items"] == []
    dry_run_create(lab, service("242.0.255.253"))
    assert lab.webhook_reviews("member1") == []


def test_the_policy_mirrors_upstreams_flags() -> None:
    deployment = webhook_deployment(
        "--allowed-external-ip-cidrs",
        "10.0.0.0/8,11.0.0.0/8",
        "--allowed-external-ip-cidrs=242.0.0.0/16",
        "--allowed-groups=ops",
    )
    policy = WebhookPolicy.from_deployment(deployment)
    assert policy is not None
    user = {"username": "someone", "groups": ["ops"]}
    assert policy.judge(service("11.0.0.5"), user) == (True, "passed svc spec validation")
    assert policy.judge(service("242.0.1.1"), user)[0]
    assert policy.judge(service("1.2.e.4"), user) == (
        False,
        'spec.externalIPs: Invalid value: "1.2.e.4": externalIP specified is not valid',
    )
    assert not policy.judge(service("10.0.0.1"), {"username": "someone", "groups": []})[0]
    # No usernames and no groups: anyone may set allowed IPs; no CIDR flag: none is allowed.
    assert WebhookPolicy.from_deployment(webhook_deployment()) == WebhookPolicy(
        (), frozenset(), frozenset()
    )
    assert (
        WebhookPolicy.from_deployment(webhook_deployment("--allowed-external-ip-cidrs=x")) is None
    )
