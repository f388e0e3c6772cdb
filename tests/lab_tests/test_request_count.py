"""The number of API requests depends on the checks, never on the number of objects."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor.adapters.kube import USER_AGENT

pytestmark = pytest.mark.lab


def bulk(count: int) -> list[dict]:
    """``count`` objects of each kind the checks read, in the places they read them."""
    objects: list[dict] = []
    for i in range(count):
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"bulk-node-{i}"}})
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"bulk-proxy-{i}",
                    "namespace": "kube-system",
                    "labels": {"k8s-app": "kube-proxy"},
                },
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            }
        )
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"bulk-{i}", "namespace": "kube-system"},
            }
        )
        objects.append(
            {
                "apiVersion": "submariner.io/v1alpha1",
                "kind": "Submariner",
                "metadata": {"name": f"bulk-{i}", "namespace": "submariner-operator"},
                "spec": {},
            }
        )
    return objects


def requests_for_one_run(lab, count: int) -> int:
    # Only the bulk objects, so that 500 of a kind fill exactly one page of 500.
    lab.reset()
    lab.apply_many("member1", bulk(count))
    before = len(lab.audit_events("member1", USER_AGENT))
    run = gdoctor("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code in (0, 1), run.stderr
    return len(lab.audit_events("member1", USER_AGENT)) - before


def test_the_same_requests_for_50_and_500_objects_of_each_kind(lab):
    few = requests_for_one_run(lab, 50)
    many = requests_for_one_run(lab, 500)
    assert few == many
    assert few <= 12  # version, discovery of two groups' versions, and one request per read
