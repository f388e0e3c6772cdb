"""The one adapter to the Kubernetes API, against the real lab apiservers."""

from __future__ import annotations

import pytest

from globalnet_doctor import kinds
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.kubeconfig import resolve_targets
from globalnet_doctor.view import InputUnavailable

pytestmark = pytest.mark.lab


def read(lab, *reads, kubeconfig=None, context="member1"):
    from globalnet_doctor.adapters.kube import read_cluster

    (target,) = resolve_targets(str(kubeconfig or lab.kubeconfig), (context,)).targets
    return read_cluster(target, list(reads), timeout=10)


SLICE = {
    "apiVersion": "discovery.k8s.io/v1beta1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "web-abc",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "web"},
    },
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.43.0.7"]}],
    "ports": [{"port": 80, "protocol": "TCP", "name": "http"}],
}


def test_kinds_whose_version_moved_are_read_at_the_version_the_server_serves(lab):
    lab.apply("member1", [SLICE])
    view = read(lab, Read(kinds.ENDPOINTSLICES))
    assert view.api_version(kinds.ENDPOINTSLICES) == "discovery.k8s.io/v1beta1"
    (endpoint_slice,) = view.list(kinds.ENDPOINTSLICES, "default")
    assert endpoint_slice["endpoints"][0]["addresses"] == ["10.43.0.7"]
    assert endpoint_slice["apiVersion"] == "discovery.k8s.io/v1beta1"


# No lab cluster serves this group (the lab serves both Calico IPPool APIs).
ABSENT = Kind("example.com", "widgets", "Widget", namespaced=False, versions=("v1",))


def test_an_absent_crd_makes_its_reads_unavailable_with_the_reason(lab):
    view = read(lab, Read(ABSENT), Read(kinds.CALICO_IPPOOLS_CRD))
    with pytest.raises(InputUnavailable, match=r"CRD absent: widgets.example.com"):
        view.list(ABSENT)
    assert view.list(kinds.CALICO_IPPOOLS_CRD) == ()


def test_a_get_of_an_absent_object_is_none_not_an_error(lab):
    view = read(lab, Read(kinds.CONFIGMAPS, "kube-system", "kube-proxy"))
    assert view.get(kinds.CONFIGMAPS, "kube-proxy", "kube-system") is None


def test_forbidden_reads_name_the_verb_resource_and_namespace(lab):
    view = read(
        lab,
        Read(kinds.NODES),
        Read(kinds.CONFIGMAPS, "kube-system", "kube-proxy"),
        kubeconfig=lab.kubeconfig_nobody,
    )
    with pytest.raises(InputUnavailable, match=r"^forbidden: list nodes$"):
        view.list(kinds.NODES)
    with pytest.raises(InputUnavailable, match=r"^forbidden: get configmaps in kube-system$"):
        view.get(kinds.CONFIGMAPS, "kube-proxy", "kube-system")
    assert view.reachable
