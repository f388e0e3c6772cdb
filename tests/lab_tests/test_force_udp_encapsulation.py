"""GD408's fix forces UDP encapsulation: unsafe, a last resort, applied only when named."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

pytestmark = pytest.mark.lab

ESP_FILTERED = SCENARIOS / "GD408" / "esp-filtered-FAIL"
CR = "/apis/submariner.io/v1alpha1/namespaces/submariner-operator/submariners/submariner"


def test_forcing_udp_encapsulation_is_named_only_and_sets_both_ends(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    load(lab, load_scenario(ESP_FILTERED))
    refused = gdoctor("fix", "GD408", "--yes", "--kubeconfig", str(lab.kubeconfig))
    assert refused.code == 2
    assert "unsafe" in refused.stderr
    never_in_all = gdoctor(
        "fix", "--all", "--dry-run", "-o", "json", "--kubeconfig", str(lab.kubeconfig)
    )
    assert "GD408" not in {f["fix"] for f in never_in_all.json()["fixes"]}
    run = gdoctor("fix", "GD408", "--yes", "--unsafe", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 4, run.stdout
    assert "awaiting reconciliation" in run.stdout
    for cluster in ("member1", "member2"):
        assert lab.client(cluster).get(CR)["spec"]["ceIPSecForceUDPEncaps"] is True
    assert "ceIPSecForceUDPEncaps" not in lab.client("member3").get(CR)["spec"]
