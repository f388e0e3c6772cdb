"""GD402 names the failing pair and the root causes judged by other checks' predicates."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

pytestmark = pytest.mark.lab

WITH_IPVS = SCENARIOS / "GD402" / "ping-failure-with-ipvs-on-the-remote-FAIL"


def gd402_finding(run):
    (result,) = [
        r for r in run.json()["results"] if r["check"] == "GD402" and r["cluster"] == "member1"
    ]
    (finding,) = result["findings"]
    return finding


def test_the_finding_names_the_pair_and_ipvs_on_the_remote_cluster(lab):
    load(lab, load_scenario(WITH_IPVS))
    # GD101 is not selected: GD402 still judges kube-proxy with GD101's predicate.
    run = gdoctor("check", "GD402", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    finding = gd402_finding(run)
    assert finding["relatedClusters"] == ["member2"]
    assert finding["message"].startswith(
        "health-check pings from cluster-a (member1) to cluster-b (member2) at 242.1.255.254 fail"
    )
    causes = [c for c in finding["evidence"]["rootCauses"] if "problem" in c]
    assert causes == [
        {
            "cluster": "member2",
            "check": "GD101",
            "problem": "kube-proxy runs in IPVS mode (configMapMode)",
        }
    ]
    assert finding["remediation"]["fix"] == "GD402"


def test_the_same_answer_whatever_else_is_selected(lab):
    load(lab, load_scenario(WITH_IPVS))
    alone = gdoctor("check", "GD402", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    everything = gdoctor("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert gd402_finding(alone) == gd402_finding(everything)


def test_disabling_the_health_check_is_refused_without_unsafe_and_awaits_the_operator(
    lab, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    load(lab, load_scenario(WITH_IPVS))
    refused = gdoctor("fix", "GD402", "--yes", "--kubeconfig", str(lab.kubeconfig))
    assert refused.code == 2
    assert "unsafe" in refused.stderr
    never_in_all = gdoctor(
        "fix", "--all", "--dry-run", "-o", "json", "--kubeconfig", str(lab.kubeconfig)
    )
    assert "GD402" not in {f["fix"] for f in never_in_all.json()["fixes"]}
    run = gdoctor("fix", "GD402", "--yes", "--unsafe", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 4, run.stdout
    assert "awaiting reconciliation" in run.stdout
    cr = lab.client("member1").get(
        "/apis/submariner.io/v1alpha1/namespaces/submariner-operator/submariners/submariner"
    )
    assert cr["spec"]["connectionHealthCheck"]["enabled"] is False
