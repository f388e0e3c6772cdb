"""`gdoctor fix` and `gdoctor undo` against the real lab."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from gdoctor_run import assert_golden, gdoctor, run_id_of, statuses, without_server_fields
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

PLAN_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schemas" / "fix-plan.schema.json").read_text()
)

IPVS = SCENARIOS / "GD101" / "proxy-mode-flag-in-daemonset-FAIL"
NO_GATEWAY = SCENARIOS / "GD401" / "no-gateway-label-FAIL"
SEVERAL_NODES = SCENARIOS / "GD401" / "several-nodes-none-labelled-FAIL"


def get(lab, cluster, path):
    return lab.client(cluster).get(path)


def plan_without_run_id(run):
    document = run.json()
    document["runId"] = None
    return json.dumps(document, indent=2) + "\n"


def test_gd101_dry_run_plans_and_changes_nothing(lab):
    load(lab, load_scenario(IPVS))
    before = get(lab, "member2", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    run = gdoctor("fix", "GD101", "--dry-run", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 1, run.stdout + run.stderr
    plan = run.json()
    jsonschema.validate(plan, PLAN_SCHEMA)
    (fix,) = plan["fixes"]
    assert (fix["cluster"], fix["outcome"], fix["safety"]) == (
        "member2",
        "changes pending",
        "disruptive",
    )
    assert [(s["action"], s["kind"], s["irreversible"], s["answer"]) for s in fix["steps"]] == [
        ("update", "DaemonSet", False, "ok"),
        ("delete", "Pod", True, "ok"),
    ]
    after = get(lab, "member2", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert_golden("fix-plan-gd101-daemonset.json", plan_without_run_id(run))


def test_gd101_applies_verifies_is_idempotent_and_undoes(lab):
    load(lab, load_scenario(IPVS))
    path = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
    original = get(lab, "member2", path)
    run = gdoctor("fix", "GD101", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout + run.stderr
    assert "GD101 kube-proxy-ipvs on member2 [disruptive]: fixed" in run.stdout
    args = get(lab, "member2", path)["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--proxy-mode=iptables" in args
    # No kubelet runs in the lab: the deleted pod stays, marked for deletion.
    pod = get(lab, "member2", "/api/v1/namespaces/kube-system/pods/kube-proxy-member2")
    assert pod["metadata"]["deletionTimestamp"]
    check = gdoctor("check", "GD101", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD101"]["member2"] == "pass"
    again = gdoctor("fix", "GD101", "--yes", *kubeconfig_args(lab))
    assert (again.code, again.stdout) == (0, "nothing to fix: no selected check fails\n")

    run_id = run_id_of(run)
    undo = gdoctor("undo", run_id)
    assert undo.code == 0, undo.stdout
    assert "cannot undo (irreversible): delete Pod kube-system/kube-proxy-member2" in undo.stdout
    assert "undone: update DaemonSet kube-system/kube-proxy in member2" in undo.stdout
    assert without_server_fields(get(lab, "member2", path)) == without_server_fields(original)


def test_gd401_labels_the_only_node(lab):
    load(lab, load_scenario(NO_GATEWAY))
    run = gdoctor("fix", "no-gateway-node", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout
    node = get(lab, "member2", "/api/v1/nodes/member2")
    assert node["metadata"]["labels"]["submariner.io/gateway"] == "true"


def test_gd401_on_several_nodes_needs_node(lab):
    load(lab, load_scenario(SEVERAL_NODES))
    refused = gdoctor("fix", "GD401", "--yes", *kubeconfig_args(lab))
    assert refused.code == 2
    assert "name the gateway with --node" in refused.stdout
    run = gdoctor("fix", "GD401", "--yes", "--node", "member3-worker1", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout
    labels = get(lab, "member3", "/api/v1/nodes/member3-worker1")["metadata"]["labels"]
    assert labels["submariner.io/gateway"] == "true"


def test_without_a_terminal_and_without_yes_nothing_is_applied(lab):
    load(lab, load_scenario(NO_GATEWAY))
    run = gdoctor("fix", "GD401", *kubeconfig_args(lab))
    assert run.code == 2
    assert "pass --yes" in run.stderr
    assert (
        "submariner.io/gateway"
        not in get(lab, "member2", "/api/v1/nodes/member2")["metadata"]["labels"]
    )


def test_an_object_edited_between_plan_and_apply_is_replanned_not_clobbered(lab):
    from globalnet_doctor_fixes.gd401_no_gateway_node import LabelGatewayNode

    from globalnet_doctor.config import Settings
    from globalnet_doctor.fixer import Fixer
    from globalnet_doctor.fixspec import FixOptions
    from globalnet_doctor.journal import Journal
    from globalnet_doctor.kubeconfig import resolve_targets
    from globalnet_doctor.registry import load_fixes, load_registry

    load(lab, load_scenario(NO_GATEWAY))
    registry = load_registry()
    assert load_fixes(registry)["GD401"] is LabelGatewayNode
    targets = resolve_targets(str(lab.kubeconfig), ("member2",)).targets
    fixer = Fixer({c.id: c for c in registry.checks}, targets, Settings(), FixOptions())
    stale_plan = fixer.plan(LabelGatewayNode)
    # Someone else edits the node after gdoctor planned: a label of their own.
    lab.client("member2").merge_patch(
        "/api/v1/nodes/member2", {"metadata": {"labels": {"team": "edge"}}}
    )
    original_plan = fixer.plan
    calls = []

    def plan_once_stale(fix, seen=None):
        calls.append(fix)
        return stale_plan if len(calls) == 1 else original_plan(fix, seen)

    fixer.plan = plan_once_stale
    (report,) = fixer.apply(LabelGatewayNode, Journal.create(str(lab.kubeconfig), {}))
    assert report.outcome == "fixed"
    assert "planned again" in report.detail
    labels = get(lab, "member2", "/api/v1/nodes/member2")["metadata"]["labels"]
    assert labels["team"] == "edge"  # their edit survived
    assert labels["submariner.io/gateway"] == "true"


def test_a_fix_rbac_forbids_is_a_clear_error_and_nothing_half_applied(lab):
    load(lab, load_scenario(IPVS))
    run = gdoctor("fix", "GD101", "--yes", "--kubeconfig", str(lab.kubeconfig_reader))
    assert run.code == 3, run.stdout
    assert "failed, rolled back" in run.stdout
    assert "forbidden" in run.stdout
    ds = get(lab, "member2", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    assert "--proxy-mode=ipvs" in ds["spec"]["template"]["spec"]["containers"][0]["command"]


def test_fix_of_a_check_without_fix_is_a_usage_error(lab):
    run = gdoctor("fix", "GD001", "--yes", *kubeconfig_args(lab))
    assert run.code == 2
    assert "GD001 submariner-not-ready has no fix" in run.stderr


DNSMASQ_STALE = SCENARIOS / "GD502" / "upstream-stale-FAIL"
COREDNS_STALE = SCENARIOS / "GD504" / "stale-forward-FAIL"
COREDNS_MISSING = SCENARIOS / "GD504" / "no-lighthouse-block-FAIL"


def test_gd502_repoints_the_line_keeps_the_rest_and_restarts_dnsmasq(lab):
    load(lab, load_scenario(DNSMASQ_STALE))
    path = "/api/v1/namespaces/submariner-operator/configmaps/external-dnsmasq"
    before = get(lab, "member1", path)["data"]["upstreamservers"]
    run = gdoctor("fix", "GD502", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout
    after = get(lab, "member1", path)["data"]["upstreamservers"]
    assert after == before.replace("/10.96.83.11", "/10.100.48.21")
    pod = get(
        lab,
        "member1",
        "/api/v1/namespaces/submariner-operator/pods/external-dns-cluster-a-7d9f8-abcde",
    )
    assert pod["metadata"]["deletionTimestamp"]
    assert gdoctor("fix", "GD502", "--yes", *kubeconfig_args(lab)).stdout.startswith(
        "nothing to fix"
    )


@pytest.mark.parametrize("scenario", [COREDNS_STALE, COREDNS_MISSING], ids=["stale", "missing"])
def test_gd504_rewrites_the_lighthouse_block_and_undo_restores_the_corefile(lab, scenario):
    load(lab, load_scenario(scenario))
    cluster = "member2" if scenario == COREDNS_STALE else "member3"
    path = "/api/v1/namespaces/kube-system/configmaps/coredns"
    original = get(lab, cluster, path)["data"]["Corefile"]
    run = gdoctor("fix", "GD504", "--yes", *kubeconfig_args(lab))
    assert run.code == 0, run.stdout
    corefile = get(lab, cluster, path)["data"]["Corefile"]
    assert "clusterset.local:53 {\n    forward . 10.100.48." in corefile
    assert corefile.endswith(original[original.index(".:53 {") :])
    check = gdoctor("check", "GD504", "-o", "json", *kubeconfig_args(lab))
    assert statuses(check.json())["GD504"][cluster] == "pass"
    run_id = run_id_of(run)
    assert gdoctor("undo", run_id).code == 0
    assert get(lab, cluster, path)["data"]["Corefile"] == original
