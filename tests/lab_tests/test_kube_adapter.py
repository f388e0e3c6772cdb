"""The one adapter to the Kubernetes API, against the real lab apiservers."""

from __future__ import annotations

import time

import pytest
from lab import ApiError

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


# An aggregated API whose server is down: the APIService names a Service with no pod behind it,
# so the apiserver answers 503 for the whole group (as for a dead Calico API server's
# projectcalico.org/v3).
DEAD = Kind("dead.example.com", "widgets", "Widget", namespaced=False, versions=("v1",))
DEAD_API_SERVICE = {
    "apiVersion": "apiregistration.k8s.io/v1",
    "kind": "APIService",
    "metadata": {"name": "v1.dead.example.com"},
    "spec": {
        "group": "dead.example.com",
        "version": "v1",
        "service": {"namespace": "default", "name": "dead-api", "port": 443},
        "insecureSkipTLSVerify": True,
        "groupPriorityMinimum": 1000,
        "versionPriority": 15,
    },
}
DEAD_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "dead-api", "namespace": "default"},
    "spec": {"ports": [{"port": 443, "protocol": "TCP"}]},
}


def test_a_group_whose_discovery_fails_makes_its_kinds_unavailable_not_the_cluster(lab):
    lab.apply("member1", [DEAD_SERVICE, DEAD_API_SERVICE])
    _until_answers(lab.client("member1"), "/apis/dead.example.com/v1", 503)
    view = read(lab, Read(DEAD), Read(kinds.CONFIGMAPS, "kube-system"), Read(kinds.NODES))
    assert view.reachable, view.error
    with pytest.raises(
        InputUnavailable, match=r"discovery of dead.example.com/v1 failed: HTTP 503"
    ):
        view.list(DEAD)
    assert isinstance(view.list(kinds.NODES), tuple)
    assert isinstance(view.list(kinds.CONFIGMAPS, "kube-system"), tuple)


def _until_answers(client, path, status, timeout=30.0):
    """Until the aggregator has taken the APIService in (it answers 404 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.get(path)
            last = 200
        except ApiError as err:
            last = err.status
        if last == status:
            return
        assert time.monotonic() < deadline, f"{path} still answers {last}"
        time.sleep(0.1)
