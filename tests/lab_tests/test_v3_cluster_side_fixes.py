"""GD404's and GD405's fixes against the real lab (no controller runs there)."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor, run_id_of
from lab_fixtures import kubeconfig_args, load
from scenario import SCENARIOS, load_scenario

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("journal_home")]

STALE_ENDPOINT = SCENARIOS / "GD404" / "stale-broker-endpoint-FAIL"


def test_gd404_restarts_the_active_gateway_and_awaits_the_daemonset(lab):
    load(lab, load_scenario(STALE_ENDPOINT))
    run = gdoctor("fix", "GD404", "--yes", *kubeconfig_args(lab))
    # The pod is deleted, but nothing recreates it and no leader removes the stale Endpoint.
    assert run.code == 4, run.stdout + run.stderr
    assert "GD404 multiple-active-gateways on member1 [disruptive]: awaiting reconciliation" in (
        run.stdout
    )
    assert "the submariner-gateway DaemonSet must recreate the deleted pods" in run.stdout
    pod = lab.client("member1").get(
        "/api/v1/namespaces/submariner-operator/pods/submariner-gateway-m1abc"
    )
    assert pod["metadata"]["deletionTimestamp"]


PUBLIC_IP_UNRESOLVED = SCENARIOS / "GD405" / "gateway-crash-loops-without-public-ip-FAIL"


def test_gd405_pins_the_public_ip_awaits_the_restart_and_undoes(lab):
    load(lab, load_scenario(PUBLIC_IP_UNRESOLVED))
    run = gdoctor("fix", "GD405", "--yes", *kubeconfig_args(lab))
    # The annotation is right at once; the crash-looping container still has to restart.
    assert run.code == 4, run.stdout + run.stderr
    assert "GD405 gateway-public-ip-unresolved on member2 [safe]: awaiting reconciliation" in (
        run.stdout
    )
    assert "the kubelet must restart the crash-looping gateway container" in run.stdout
    node = lab.client("member2").get("/api/v1/nodes/member2")
    assert node["metadata"]["annotations"]["gateway.submariner.io/public-ip"] == (
        "ipv4:172.16.255.181"
    )
    undo = gdoctor("undo", run_id_of(run))
    assert undo.code == 0, undo.stdout
    node = lab.client("member2").get("/api/v1/nodes/member2")
    assert "gateway.submariner.io/public-ip" not in (node["metadata"].get("annotations") or {})
