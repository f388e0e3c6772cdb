"""`gdoctor fix` for GD307, GD309 and GD310 against the lab, where no controller runs: GD307
(bookkeeping) ends ``fixed``; GD309 and GD310 end ``awaiting reconciliation`` naming
submariner-globalnet, which must re-allocate what the fix made it forget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gdoctor_run import gdoctor, run_id_of, statuses, without_server_fields
from lab import Lab
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

LEDGER = "/api/v1/namespaces/submariner-k8s-broker/configmaps/submariner-globalnet-info"
CGEIP = "/apis/submariner.io/v1/clusterglobalegressips/cluster-egress.submariner.io"
GATEWAY = "/apis/submariner.io/v1/namespaces/submariner-operator/gateways/member2"
NODE = "/api/v1/nodes/member2"
GLOBALNET_PODS = "/api/v1/namespaces/submariner-operator/pods"


def get(lab: Lab, cluster: str, path: str) -> dict[str, Any]:
    return lab.client(cluster).get(path)


def test_gd307_records_the_cluster_cidr_at_the_broker_and_undoes(lab):
    load(lab, load_scenario(SCENARIOS / "GD307" / "whole-range-entry-FAIL"))
    original = get(lab, "member1", LEDGER)
    run = gdoctor("fix", "GD307", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert "GD307 globalnet-cidr-broker-mismatch on member1 [safe]: fixed" in run.stdout
    data = get(lab, "member1", LEDGER)["data"]
    assert json.loads(data["clusterinfo"]) == [
        {"cluster_id": "cluster-a", "global_cidr": ["242.0.0.0/16"]},
        {"cluster_id": "cluster-b", "global_cidr": ["242.1.0.0/16"]},
        {"cluster_id": "cluster-c", "global_cidr": ["242.2.0.0/16"]},
    ]
    assert data["clusterinfo"].startswith('[\n\t{\n\t\t"cluster_id": "cluster-a"')
    assert {k: v for k, v in data.items() if k != "clusterinfo"} == {
        k: v for k, v in original["data"].items() if k != "clusterinfo"
    }
    check = gdoctor("check", "GD307", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD307"] == dict.fromkeys(lab.clusters, "pass")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    restored = get(lab, "member1", LEDGER)
    assert without_server_fields(restored) == without_server_fields(original)


def test_gd309_clears_the_stale_annotation_restarts_globalnet_and_awaits_it(lab):
    load(lab, load_scenario(SCENARIOS / "GD309" / "stale-gateway-annotation-after-rejoin-FAIL"))
    run = gdoctor("fix", "GD309", "--yes", *kubeconfig_args(lab))
    assert run.code == 4, run.stdout + run.stderr
    assert (
        "GD309 stale-global-ip-annotation on member2 [disruptive]: awaiting reconciliation "
        "(submariner-globalnet must annotate the active Gateway member2 with a global IP in "
        "242.1.0.0/16"
    ) in run.stdout
    assert "submariner.io/globalIp" not in get(lab, "member2", GATEWAY)["metadata"].get(
        "annotations", {}
    )
    assert "submariner.io/globalIp" not in (
        get(lab, "member2", NODE)["metadata"].get("annotations") or {}
    )
    # Deleted: with no kubelet to confirm it, the pod waits out its grace period, terminating.
    pods = get(lab, "member2", GLOBALNET_PODS)["items"]
    assert all(p["metadata"].get("deletionTimestamp") for p in pods), pods
    # The broker's Endpoint still names the stale IP until the gateway re-publishes it.
    check = gdoctor("check", "GD309", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD309"]["member2"] == "fail"


def test_gd310_writes_num_global_ips_and_awaits_globalnet(lab):
    load(lab, load_scenario(SCENARIOS / "GD310" / "number-of-ips-in-spec-FAIL"))
    original = get(lab, "member2", CGEIP)
    run = gdoctor("fix", "GD310", "--yes", *kubeconfig_args(lab))
    assert run.code == 4, run.stdout + run.stderr
    assert (
        "GD310 cluster-egress-ip-misconfigured on member2 [disruptive]: awaiting reconciliation "
        "(submariner-globalnet must allocate 9 cluster egress IP(s) to "
        "cluster-egress.submariner.io (it holds 1))"
    ) in run.stdout
    spec = get(lab, "member2", CGEIP)["spec"]
    assert spec == {"numGlobalIPs": 9}
    check = gdoctor("check", "GD310", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD310"] == dict.fromkeys(lab.clusters, "pass")

    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    assert get(lab, "member2", CGEIP)["spec"] == original["spec"]
