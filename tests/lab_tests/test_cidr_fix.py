"""`gdoctor fix GD003` against the lab: the Submariner CR's spec gets the control plane's CIDR,
and since no operator runs there to copy it to the status, the fix ends awaiting the operator;
once the status follows (as the operator would write it), the check passes; undo restores."""

from __future__ import annotations

from typing import Any

import pytest
from gdoctor_run import gdoctor, statuses
from lab import Lab
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

ONE_NODE_CIDR = SCENARIOS / "GD003" / "one-node-cidr-declared-FAIL"
NO_AUTHORITY = SCENARIOS / "GD003" / "services-outside-service-cidr-FAIL"
SUBMARINER = "/apis/submariner.io/v1alpha1/namespaces/submariner-operator/submariners/submariner"


def submariner_cr(lab: Lab, cluster: str) -> dict[str, Any]:
    return lab.client(cluster).get(SUBMARINER)


def test_gd003_sets_the_spec_and_awaits_the_operator_then_undoes(lab):
    load(lab, load_scenario(ONE_NODE_CIDR))
    run = gdoctor("fix", "GD003", "--yes", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 4, run.stdout + run.stderr
    (fix,) = run.json()["fixes"]
    assert (fix["cluster"], fix["safety"], fix["outcome"]) == (
        "member2",
        "disruptive",
        "awaiting reconciliation",
    )
    assert fix["detail"].startswith("the Submariner operator must copy spec.clusterCIDR")
    assert "submariner-gateway and submariner-routeagent DaemonSets" in fix["detail"]
    cr = submariner_cr(lab, "member2")
    assert cr["spec"]["clusterCIDR"] == "10.43.0.0/16"
    assert cr["status"]["clusterCIDR"] == "10.43.0.0/24"  # only the operator writes it

    undo = gdoctor("undo", run.json()["runId"], *kubeconfig_args(lab))
    assert undo.code == 0, undo.stdout + undo.stderr
    assert submariner_cr(lab, "member2")["spec"]["clusterCIDR"] == "10.43.0.0/24"


def test_gd003_passes_once_the_operator_copied_the_spec(lab):
    load(lab, load_scenario(ONE_NODE_CIDR))
    run = gdoctor("fix", "GD003", "--yes", *kubeconfig_args(lab))
    assert "awaiting reconciliation" in run.stdout, run.stdout + run.stderr
    # What the operator does next: the configured CIDR takes precedence in the status.
    cr = submariner_cr(lab, "member2")
    cr["status"]["clusterCIDR"] = cr["spec"]["clusterCIDR"]
    lab.client("member2").put(SUBMARINER + "/status", cr)
    check = gdoctor("check", "GD003", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD003"]["member2"] == "pass"
    again = gdoctor("fix", "GD003", "--yes", *kubeconfig_args(lab))
    assert again.code == 0, again.stdout + again.stderr


def test_gd003_plans_nothing_without_an_authoritative_cidr(lab):
    load(lab, load_scenario(NO_AUTHORITY))
    before = submariner_cr(lab, "member3")
    run = gdoctor("fix", "GD003", "--yes", *kubeconfig_args(lab))
    # No control-plane source names the service CIDR: gdoctor has nothing it may choose.
    assert "GD003 cluster-cidr-mismatch on member3 [disruptive]: nothing to do" in run.stdout
    assert submariner_cr(lab, "member3")["spec"] == before["spec"]
