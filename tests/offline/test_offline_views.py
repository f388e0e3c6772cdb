"""The offline views answer reads the way the lab's kube-apiserver v1.20 does."""

from __future__ import annotations

from datetime import UTC, datetime

from globalnet_doctor import kinds
from globalnet_doctor.kinds import Kind, Read
from offline import cluster_view

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _obj(api_version: str, kind: str, name: str, namespace: str | None = None, **labels: str):
    metadata: dict = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def test_lists_follow_etcd_key_order_and_carry_the_loader_label():
    pods = [_obj("v1", "Pod", "b", "y"), _obj("v1", "Pod", "a", "y"), _obj("v1", "Pod", "z", "x")]
    read = Read(kinds.PODS)
    view = cluster_view("member1", [read], pods, NOW)
    listed = view.list(kinds.PODS)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed] == [
        ("x", "z"),
        ("y", "a"),
        ("y", "b"),
    ]
    assert all(o["metadata"]["labels"]["gdoctor-lab/loaded"] == "true" for o in listed)


def test_namespace_name_and_label_selector_narrow_the_answer():
    objects = [
        _obj("v1", "Node", "n1", **{"submariner.io/gateway": "true"}),
        _obj("v1", "Node", "n2"),
        _obj("v1", "ConfigMap", "kube-proxy", "kube-system"),
        _obj("v1", "ConfigMap", "kube-proxy", "other"),
        _obj("v1", "ConfigMap", "plain"),  # created in `default` by the loader
    ]
    gateways = Read(kinds.NODES, label_selector="submariner.io/gateway=true")
    proxy = Read(kinds.CONFIGMAPS, "kube-system", "kube-proxy")
    default = Read(kinds.CONFIGMAPS, "default")
    view = cluster_view("member1", [gateways, proxy, default], objects, NOW)
    nodes = view.list(kinds.NODES, label_selector="submariner.io/gateway=true")
    assert [n["metadata"]["name"] for n in nodes] == ["n1"]
    found = view.get(kinds.CONFIGMAPS, "kube-proxy", "kube-system")
    assert found is not None
    assert found["metadata"]["namespace"] == "kube-system"
    assert [o["metadata"]["name"] for o in view.list(kinds.CONFIGMAPS, "default")] == ["plain"]


def test_discovery_decides_served_versions_and_absent_crds():
    unknown = Kind("example.com", "widgets", "Widget", versions=("v1",))
    slices = Read(kinds.ENDPOINTSLICES)
    reads = [slices, Read(unknown), Read(kinds.APISERVICES, name="v3.projectcalico.org")]
    view = cluster_view("member1", reads, [], NOW)
    # kube-apiserver v1.20 serves EndpointSlice only at discovery.k8s.io/v1beta1.
    assert view.api_version(kinds.ENDPOINTSLICES) == "discovery.k8s.io/v1beta1"
    assert view.answers[Read(unknown)].unavailable == (
        "CRD absent: widgets.example.com is not served by this cluster"
    )
    # The autoregister controller's local APIService for the lab's projectcalico.org/v3 CRD.
    service = view.get(kinds.APISERVICES, "v3.projectcalico.org")
    assert service is not None
    assert service["status"]["conditions"][0]["status"] == "True"


def test_a_crd_in_the_scenario_serves_its_kind():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True}],
        },
    }
    widget = Kind("example.com", "widgets", "Widget", versions=("v1",))
    objects = [crd, _obj("example.com/v1", "Widget", "w", "default")]
    view = cluster_view("member1", [Read(widget)], objects, NOW)
    assert [o["metadata"]["name"] for o in view.list(widget)] == ["w"]
