"""GD404's and GD405's fixes against the real lab (no controller runs there)."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor
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
