"""GD002 and GD004 over hand-built views: what the v1.20 lab cannot stage (Kubernetes 1.33, the
ServiceCIDR API served, an old CR) and the version arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from globalnet_doctor_checks.gd002_network_discovery_failed import NetworkDiscoveryFailed
from views_from_objects import view_answering

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.deployment import image_tag, kubernetes_minor, release
from globalnet_doctor.spec import CheckContext, NotApplicable

NOW = datetime(2026, 1, 6, 8, 30, tzinfo=UTC)
SETTINGS = Settings()
READS = NetworkDiscoveryFailed.reads(SETTINGS)


def cr(created: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "submariner.io/v1alpha1",
        "kind": "Submariner",
        "metadata": {
            "name": "submariner",
            "namespace": "submariner-operator",
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {"version": "0.20.1"},
    }


def operator(tag: str) -> dict[str, Any]:
    image = f"quay.io/submariner/submariner-operator:{tag}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "submariner-operator", "namespace": "submariner-operator"},
        "spec": {"template": {"spec": {"containers": [{"name": "op", "image": image}]}}},
    }


def gd002(objects, *, version: str = "v1.33.1", service_cidr_api: bool = False):
    unavailable = {} if service_cidr_api else {kinds.SERVICE_CIDRS: "CRD absent"}
    view = view_answering("member1", READS, objects, unavailable=unavailable, observed_at=NOW)
    view.kubernetes_version = version
    return list(NetworkDiscoveryFailed().run(CheckContext(view, [view], SETTINGS)))


def test_all_three_causes_explain_the_failure_on_kubernetes_1_33():
    (finding,) = gd002([cr(NOW - timedelta(minutes=10)), operator("0.20.1")])
    assert finding.message.endswith("its network discovery cannot work on this cluster")
    assert set(finding.evidence["discoveryCauses"]) == {
        "noApiserverPod",
        "serviceCidrApi",
        "operatorRelease",
    }
    assert finding.evidence["ageSeconds"] == 600
    assert "subctl upgrade --to-version v0.21.1" in finding.remediation.text


def test_a_served_service_cidr_api_counts_on_older_kubernetes():
    (finding,) = gd002(
        [cr(NOW - timedelta(minutes=10)), operator("v0.21.0")],
        version="v1.32.4",
        service_cidr_api=True,
    )
    assert "ServiceCIDR API is served" in finding.evidence["discoveryCauses"]["serviceCidrApi"]


def test_a_fixed_operator_is_not_blamed():
    (finding,) = gd002([cr(NOW - timedelta(minutes=10)), operator("0.21.1")])
    assert "operatorRelease" not in finding.evidence["discoveryCauses"]
    assert "cannot work" not in finding.message
    assert "logs deploy/submariner-operator" in finding.remediation.text


def test_a_fresh_cr_is_within_the_grace_period():
    with pytest.raises(NotApplicable, match="younger than the install grace period"):
        gd002([cr(NOW - timedelta(seconds=30)), operator("0.20.1")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.18.1", (0, 18, 1)), ("v0.21", (0, 21, 0)), ("devel", None), ("release-0.18", None)],
)
def test_release(text, expected):
    assert release(text) == expected


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("quay.io/submariner/submariner-gateway:0.18.1", "0.18.1"),
        ("localhost:5000/submariner-gateway", None),
        ("quay.io/submariner/submariner-gateway@sha256:abcd", None),
    ],
)
def test_image_tag(image, tag):
    assert image_tag(image) == tag


def test_kubernetes_minor():
    assert kubernetes_minor("v1.33.1+k3s1") == (1, 33)
    assert kubernetes_minor(None) is None


def test_gd004_names_an_operator_older_than_spec_version_but_not_a_newer_one():
    from globalnet_doctor_checks.gd004_component_version_skew import ComponentVersionSkew

    reads = ComponentVersionSkew.reads(SETTINGS)
    submariner = cr(NOW) | {"spec": {"version": "0.21.1"}}

    def findings(tag: str) -> list[str]:
        view = view_answering("member1", reads, [submariner, operator(tag)], observed_at=NOW)
        return [f.message for f in ComponentVersionSkew().run(CheckContext(view, [view], SETTINGS))]

    assert findings("0.20.1") == [
        "the operator Deployment submariner-operator runs "
        "quay.io/submariner/submariner-operator:0.20.1, older than spec.version 0.21.1"
    ]
    assert findings("0.22.0") == []
