"""The Calico, CIDR-overlap and external-host checks over hand-built views: the cases the lab
cannot stage (one pool API absent or forbidden) and the shared predicates GD402 calls."""

from __future__ import annotations

from typing import Any

import pytest
from globalnet_doctor_checks.gd201_calico_not_vxlan import (
    CalicoNotVxlan,
    calico_encapsulation_problems,
)
from globalnet_doctor_checks.gd202_calico_bird_probes import bird_flags
from globalnet_doctor_checks.gd203_calico_ippools_missing import (
    CalicoIppoolsMissing,
    missing_pool_problems,
)
from globalnet_doctor_checks.gd304_cidr_overlap import CidrOverlap, overlap_problems
from globalnet_doctor_checks.gd306_external_host_outside_cluster_cidr import owning_clusters
from views_from_objects import view_answering

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.calico import ip_pools
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.spec import CheckContext, NotApplicable
from globalnet_doctor.view import InputUnavailable

SETTINGS = Settings()
ABSENT = "CRD absent"


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any):
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def make_view(name: str, reads, objects, unavailable: dict[Kind, str] | None = None):
    """A view answering ``reads`` from ``objects``; kinds in ``unavailable`` answer with why."""
    return view_answering(name, reads, objects, unavailable=unavailable)


def calico(backend: str = "vxlan") -> list[dict[str, Any]]:
    return [
        obj("v1", "ConfigMap", "calico-config", "kube-system", data={"calico_backend": backend}),
        obj(
            "apps/v1",
            "DaemonSet",
            "calico-node",
            "kube-system",
            spec={"template": {"spec": {"containers": [{"name": "calico-node", "env": []}]}}},
        ),
    ]


def pool(name: str, cidr: str, api: str = "crd.projectcalico.org/v1", **spec: Any):
    return obj(api, "IPPool", name, spec={"cidr": cidr, **spec})


def submariner(cluster_id: str, global_cidr: str | None, service: str = "10.96.0.0/12"):
    spec = {"clusterID": cluster_id, "clusterCIDR": "10.43.0.0/16", "serviceCIDR": service}
    if global_cidr:
        spec["globalCIDR"] = global_cidr
    return obj(
        "submariner.io/v1alpha1", "Submariner", "submariner", "submariner-operator", spec=spec
    )


def broker(*clusters: tuple[str, str]) -> list[dict[str, Any]]:
    found = [obj("submariner.io/v1alpha1", "Broker", "submariner-broker", "submariner-k8s-broker")]
    for cluster_id, global_cidr in clusters:
        spec = {
            "cluster_id": cluster_id,
            "cluster_cidr": ["10.43.0.0/16"],
            "service_cidr": ["10.96.0.0/12"],
            "global_cidr": [global_cidr],
        }
        found.append(
            obj("submariner.io/v1", "Cluster", cluster_id, "submariner-k8s-broker", spec=spec)
        )
    return found


GOOD_POOLS = [
    pool("default", "10.43.0.0/16", vxlanMode="Always", ipipMode="Never", natOutgoing=True),
    pool("cluster-b", "242.1.0.0/16", disabled=True, natOutgoing=False),
    pool("svc", "10.96.0.0/12", disabled=True, natOutgoing=False),
]


def test_pools_come_from_whichever_api_is_served_and_v3_wins_a_shared_name():
    reads = [Read(kinds.CALICO_IPPOOLS_CRD), Read(kinds.CALICO_IPPOOLS_V3)]
    only_v1 = make_view("c", reads, GOOD_POOLS, {kinds.CALICO_IPPOOLS_V3: ABSENT})
    listing = ip_pools(only_v1)
    assert [p.name for p in listing.pools] == ["cluster-b", "default", "svc"]
    assert listing.apis == {"projectcalico.org/v3": ABSENT, "crd.projectcalico.org/v1": "read"}

    v3 = [pool("cluster-b", "242.1.0.0/16", api="projectcalico.org/v3", disabled=True)]
    both = make_view("c", reads, GOOD_POOLS + v3)
    assert {p.name: p.api_version for p in ip_pools(both).pools}["cluster-b"].endswith("/v3")

    neither = make_view(
        "c", reads, [], {kinds.CALICO_IPPOOLS_V3: ABSENT, kinds.CALICO_IPPOOLS_CRD: "forbidden"}
    )
    with pytest.raises(InputUnavailable, match="Calico IP pools cannot be read"):
        ip_pools(neither)


def test_encapsulation_problems_name_each_ipip_or_bgp_sign_and_nothing_without_calico():
    reads = CalicoNotVxlan.reads(SETTINGS)
    assert calico_encapsulation_problems(make_view("c", reads, GOOD_POOLS)) == []
    assert calico_encapsulation_problems(make_view("c", reads, [*calico(), *GOOD_POOLS])) == []
    ipip = pool("default", "10.43.0.0/16", ipipMode="Always", natOutgoing=True)
    remote = pool("cluster-b", "242.1.0.0/16", disabled=True)  # modes left out: not judged
    problems = calico_encapsulation_problems(make_view("c", reads, [*calico("bird"), ipip, remote]))
    assert len(problems) == 2
    assert "backend is bird" in problems[0]
    assert problems[1].startswith("IPPool default (10.43.0.0/16) has ipipMode Always")


def clusters_for_pools(pools, unavailable=None, with_broker=True, calico_objects=None):
    member1_objects = [submariner("cluster-a", "242.0.0.0/16"), *(calico_objects or calico())]
    if with_broker:
        member1_objects += broker(("cluster-a", "242.0.0.0/16"), ("cluster-b", "242.1.0.0/16"))
    reads = CalicoIppoolsMissing.reads(SETTINGS)
    if not any(p["spec"].get("natOutgoing") for p in pools):
        pools = [GOOD_POOLS[0], *pools]  # the pod pool whose NAT makes GD203 apply
    member1 = make_view("member1", reads, [*member1_objects, *pools], unavailable)
    member2 = make_view("member2", reads, [submariner("cluster-b", "242.1.0.0/16")])
    return member1, [member1, member2]


def test_pool_problems_judge_by_containment_through_the_served_api():
    v3_absent = {kinds.CALICO_IPPOOLS_V3: ABSENT, kinds.APISERVICES: "forbidden: get apiservices"}
    supernet = [pool("globals", "242.0.0.0/8", disabled=True, natOutgoing=False), GOOD_POOLS[2]]
    view, clusters = clusters_for_pools(supernet, v3_absent)
    assert missing_pool_problems(view, clusters, SETTINGS) == []

    view, clusters = clusters_for_pools([GOOD_POOLS[2]], v3_absent)
    assert missing_pool_problems(view, clusters, SETTINGS) == [
        "no Calico IPPool covers cluster-b's globalCIDR 242.1.0.0/16"
    ]
    (finding,) = CalicoIppoolsMissing().run(CheckContext(view, clusters, SETTINGS))
    assert finding.evidence["suggestedPool"] == {
        "apiVersion": "crd.projectcalico.org/v1",
        "name": "gdoctor-cluster-b-242.1.0.0-16",
    }
    assert finding.evidence["calicoApiService"]["unreadable"] == "forbidden: get apiservices"


def test_pool_problems_leave_warnings_to_the_check_and_say_why_they_cannot_judge():
    view, clusters = clusters_for_pools([GOOD_POOLS[1]])  # the local service pool is missing
    assert missing_pool_problems(view, clusters, SETTINGS) == []
    (finding,) = CalicoIppoolsMissing().run(CheckContext(view, clusters, SETTINGS))
    assert finding.severity.value == "warning"

    view, clusters = clusters_for_pools(GOOD_POOLS, calico_objects=[])
    assert missing_pool_problems(view, clusters, SETTINGS) == []  # no Calico: nothing to name

    view, clusters = clusters_for_pools(GOOD_POOLS, with_broker=False)
    with pytest.raises(InputUnavailable, match="--broker-context"):
        missing_pool_problems(view, clusters, SETTINGS)


def test_overlaps_go_under_the_first_cluster_and_the_predicate_sees_both_positions():
    reads = CidrOverlap.reads(SETTINGS)
    member1 = make_view("member1", reads, [submariner("cluster-a", "242.0.0.0/16")])
    member2 = make_view("member2", reads, [submariner("cluster-b", "242.1.0.0/16")])
    member3 = make_view("member3", reads, [submariner("cluster-c", "242.1.0.0/16")])
    clusters = [member1, member2, member3]
    expected = "member2's globalCIDR 242.1.0.0/16 overlaps member3's globalCIDR 242.1.0.0/16"
    assert overlap_problems(member2, clusters, SETTINGS) == [expected]
    assert overlap_problems(member3, clusters, SETTINGS) == [expected]
    assert overlap_problems(member1, clusters, SETTINGS) == []
    findings = {
        view.name: list(CidrOverlap().run(CheckContext(view, clusters, SETTINGS)))
        for view in clusters
    }
    assert [len(f) for f in findings.values()] == [0, 1, 0]
    assert findings["member2"][0].related_clusters == ("member3",)


def test_bird_flags_are_found_in_shell_strings_and_only_as_flags():
    container = {
        "livenessProbe": {"exec": {"command": ["/bin/calico-node", "-felix-live"]}},
        "readinessProbe": {
            "exec": {"command": ["sh", "-c", "calico-node -bird-ready -felix-ready"]}
        },
    }
    assert bird_flags(container) == {"readinessProbe": ["-bird-ready"]}
    assert bird_flags({"livenessProbe": {"exec": {"command": ["echo", "bird-live"]}}}) == {}


def test_the_external_hosts_owner_flag_then_cluster_cidr_then_nobody():
    reads = [Read(kinds.SUBMARINERS, "submariner-operator"), Read(kinds.ENDPOINTS)]
    with_host = submariner("cluster-a", "242.0.0.0/16")
    with_host["spec"]["clusterCIDR"] = "10.43.0.0/16,172.16.255.184/32"
    member1 = make_view("member1", reads, [with_host])
    member2 = make_view("member2", reads, [submariner("cluster-b", "242.1.0.0/16")])
    clusters = [member1, member2]
    host = "172.16.255.184"
    assert owning_clusters(clusters, SETTINGS, host).owners == ("member1",)
    named = Settings(host_cluster="cluster-b")
    assert owning_clusters(clusters, named, host).owners == ("member2",)
    with pytest.raises(NotApplicable, match="--host-cluster"):
        owning_clusters(clusters, SETTINGS, "192.0.2.1")
