"""The field report repaired by `gdoctor fix --all`, as issue 5 asks, on the real lab."""

from __future__ import annotations

import threading
import time

import pytest
from gdoctor_run import gdoctor, statuses
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

FIELD_REPORT = SCENARIOS / "field-report" / "before-repairs-FAIL"
HEALTHY = SCENARIOS / "field-report" / "after-repairs-PASS"
# Checks that judge configuration (not what controllers and datapaths report back).
CONFIGURATION_CHECKS = (
    "GD001",
    "GD101",
    "GD201",
    "GD202",
    "GD203",
    "GD301",
    "GD304",
    "GD305",
    "GD306",
    "GD401",
    "GD502",
    "GD504",
)
NODE_SERVICE = "/api/v1/namespaces/default/services/node"
RETRIGGER_PREFIX = "gdoctor"


def what_globalnet_creates(cluster: str) -> list[dict]:
    """The objects Globalnet and Lighthouse make for the `node` export once admission allows
    its internal Service: those of the repaired state the field-report scenario lacks."""
    before = load_scenario(FIELD_REPORT).objects[cluster]
    present = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in before}
    return [
        o
        for o in load_scenario(HEALTHY).objects[cluster]
        if (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) not in present
        and o["kind"] in ("Service", "Endpoints", "ServiceImport", "EndpointSlice")
    ]


def play_submariner(lab) -> None:
    """What Globalnet and Lighthouse do when the re-triggered Service changes."""
    healthy = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in load_scenario(HEALTHY).objects["member1"]
    }
    client = lab.client("member1")
    for kind, path in (
        ("GlobalIngressIP", "/apis/submariner.io/v1/namespaces/default/globalingressips/node"),
        (
            "ServiceExport",
            "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/default/serviceexports/node",
        ),
    ):
        current = client.get(path)
        current["status"] = healthy[(kind, "default", "node")]["status"]
        client.put(f"{path}/status", current)
    for cluster in lab.clusters:
        lab.apply(cluster, what_globalnet_creates(cluster))


def retriggered(lab) -> bool:
    annotations = lab.client("member1").get(NODE_SERVICE)["metadata"].get("annotations") or {}
    return any(key.startswith(RETRIGGER_PREFIX) for key in annotations)


def test_fix_all_repairs_the_configuration_and_awaits_globalnet(lab):
    load(lab, load_scenario(FIELD_REPORT))
    run = gdoctor("fix", "--all", "--unsafe", "--yes", "-o", "json", *kubeconfig_args(lab))
    assert run.code == 4, run.stdout + run.stderr
    outcomes = {(f["fix"], f["cluster"]): f["outcome"] for f in run.json()["fixes"]}
    assert "GD402" not in {fix for fix, _ in outcomes}  # a last resort only when named
    assert outcomes["GD301", "member1"] == "awaiting reconciliation"
    for fix in ("GD101", "GD201", "GD203"):
        for cluster in lab.clusters:
            assert outcomes[fix, cluster] == "fixed", (fix, cluster, outcomes)
    # GD201's switch to VXLAN drops the BIRD probe flags too, so GD202 has nothing left to do.
    assert {outcomes.get(("GD202", c)) for c in lab.clusters} <= {"fixed", None}
    assert retriggered(lab)

    after = gdoctor(
        "check",
        "--all",
        "--probes",
        "--external-host",
        "172.16.255.184",
        "-o",
        "json",
        *kubeconfig_args(lab),
    )
    table = statuses(after.json())
    failing = {(c, k) for c in CONFIGURATION_CHECKS for k, s in table[c].items() if s == "fail"}
    assert failing == set(), failing
    # Globalnet has not re-allocated the `node` export yet: GD302 says it waits for it.
    (gd302,) = [
        r for r in after.json()["results"] if r["check"] == "GD302" and r["cluster"] == "member1"
    ]
    assert gd302["status"] == "fail"
    message = gd302["findings"][0]["message"]
    assert "admission allows it now and it was re-triggered at" in message
    assert "awaiting reconciliation" in message


def test_with_wait_the_fix_reports_fixed_once_submariner_has_reacted(lab):
    load(lab, load_scenario(FIELD_REPORT))

    def globalnet() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if retriggered(lab):
                time.sleep(1)
                play_submariner(lab)
                return
            time.sleep(0.5)

    submariner = threading.Thread(target=globalnet, daemon=True)
    submariner.start()
    run = gdoctor(
        "fix", "--all", "--unsafe", "--yes", "--wait", "120s", "-o", "json", *kubeconfig_args(lab)
    )
    submariner.join(5)
    outcomes = {(f["fix"], f["cluster"]): f["outcome"] for f in run.json()["fixes"]}
    assert outcomes["GD301", "member1"] == "fixed", run.stdout
    assert run.code == 0, run.stdout + run.stderr
    check = gdoctor("check", "GD302", "GD303", "-o", "json", *kubeconfig_args(lab))
    assert "fail" not in {s for per in statuses(check.json()).values() for s in per.values()}
