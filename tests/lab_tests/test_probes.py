"""Probes: server-side dry runs sent through the adapter, recorded verbatim in the view."""

from __future__ import annotations

import json

import pytest

from globalnet_doctor import kinds
from globalnet_doctor.kinds import DryRunCreate
from globalnet_doctor.kubeconfig import resolve_targets

pytestmark = pytest.mark.lab

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "gdoctor-probe", "namespace": "default"},
    "spec": {"ports": [{"port": 80}], "externalIPs": ["242.0.255.1"]},
}


def probe_with(lab, probe, kubeconfig=None):
    from globalnet_doctor.adapters.kube import read_cluster

    (target,) = resolve_targets(str(kubeconfig or lab.kubeconfig), ("member1",)).targets
    view = read_cluster(target, [], timeout=10, plan_probes=lambda view: [probe])
    return view.probe(probe)


def test_a_dry_run_create_is_admitted_and_stores_nothing(lab):
    probe = DryRunCreate(kinds.SERVICES, "default", json.dumps(SERVICE))
    assert probe_with(lab, probe).allowed
    services = lab.client("member1").get("/api/v1/namespaces/default/services")["items"]
    assert "gdoctor-probe" not in {s["metadata"]["name"] for s in services}


def test_an_impersonated_user_without_rights_gets_the_rbac_answer(lab):
    probe = DryRunCreate(
        kinds.SERVICES,
        "default",
        json.dumps(SERVICE),
        impersonate_user="system:serviceaccount:submariner-operator:submariner-globalnet",
        impersonate_groups=("system:serviceaccounts", "system:authenticated"),
    )
    answer = probe_with(lab, probe)
    assert answer.status == 403
    assert answer.reason == "Forbidden"
    assert (
        'User "system:serviceaccount:submariner-operator:submariner-globalnet" cannot create'
        in (answer.message)
    )
