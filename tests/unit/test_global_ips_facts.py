"""The shared Globalnet pool and ledger facts of GD307-GD310 (facts/global_ips.py)."""

from __future__ import annotations

import ipaddress
import json

from globalnet_doctor_checks.gd308_globalnet_pool_exhausted import longest_free_run

from globalnet_doctor.facts.global_ips import (
    ClusterInfo,
    cluster_egress_count,
    cluster_info,
    egress_count,
    globalnet_range,
    inside,
    pool_size,
    same_network,
    with_cluster_cidr,
)

GO_INDENTED = (
    '[\n\t{\n\t\t"cluster_id": "cluster-a",\n\t\t"global_cidr": [\n\t\t\t"242.0.0.0/16"\n'
    '\t\t]\n\t},\n\t{\n\t\t"cluster_id": "cluster-b",\n\t\t"global_cidr": [\n'
    '\t\t\t"242.1.0.0/16"\n\t\t]\n\t}\n]'
)
"""What the operator's json.MarshalIndent(info, "", "\\t") writes for two clusters."""


def test_the_ledger_is_rewritten_as_the_operator_writes_it():
    compact = json.dumps(
        [
            {"cluster_id": "cluster-a", "global_cidr": ["242.0.0.0/8"]},
            {"cluster_id": "cluster-b", "global_cidr": ["242.1.0.0/16"]},
        ]
    )
    assert with_cluster_cidr(compact, "cluster-a", "242.0.0.0/16") == GO_INDENTED
    only_b = json.dumps([{"cluster_id": "cluster-b", "global_cidr": ["242.1.0.0/16"]}])
    appended = json.loads(with_cluster_cidr(only_b, "cluster-a", "242.0.0.0/16"))
    assert [e["cluster_id"] for e in appended] == ["cluster-b", "cluster-a"]


def test_ledger_parsing_is_lenient_about_absence_and_strict_about_shape():
    configmap = {"data": {"clusterinfo": GO_INDENTED, "globalnetCidrRange": '"242.0.0.0/8"'}}
    assert cluster_info(configmap) == [
        ClusterInfo("cluster-a", ("242.0.0.0/16",)),
        ClusterInfo("cluster-b", ("242.1.0.0/16",)),
    ]
    assert globalnet_range(configmap) == "242.0.0.0/8"
    assert cluster_info({"data": {}}) == []
    assert cluster_info({"data": {"clusterinfo": "{"}}) is None
    assert cluster_info({"data": {"clusterinfo": '{"cluster_id": "a"}'}}) is None
    assert same_network("242.0.0.1/16", "242.0.0.0/16")
    assert not same_network("242.0.0.0/8", "242.0.0.0/16")


def test_pool_size_counts_and_allocation_defaults():
    assert pool_size(ipaddress.ip_network("242.2.0.0/29")) == 6
    assert pool_size(ipaddress.ip_network("242.0.0.0/16")) == 65534
    assert cluster_egress_count(None) == 8  # created with DefaultNumberOfClusterEgressIPs
    assert cluster_egress_count({"spec": {}}) == 1  # nil numGlobalIPs: 1
    assert cluster_egress_count({"spec": {"numberOfIPs": 9}}) == 1  # not its field
    assert egress_count({"spec": {"numberOfIPs": 3}}) == 3
    assert inside("242.2.0.6", ipaddress.ip_network("242.2.0.0/29"))
    assert not inside("242.2.0.0/29", ipaddress.ip_network("242.2.0.0/29"))
    assert not inside("not an ip", ipaddress.ip_network("242.2.0.0/29"))


def test_longest_free_run_ignores_network_broadcast_and_foreign_addresses():
    network = ipaddress.ip_network("242.2.0.0/28")
    assert longest_free_run(network, []) == 14
    used = [f"242.2.0.{i}" for i in (*range(1, 9), 10, 11, 12, 13, 14)] + ["10.0.0.1"]
    assert longest_free_run(network, used) == 1
    assert longest_free_run(network, ["242.2.0.7"]) == 7
