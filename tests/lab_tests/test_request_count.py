"""The number of API requests depends on the checks, never on the number of objects.

For every read any registered check declares, the test creates 50, then 500, objects of that
kind where the read looks (with the labels its selector asks for), runs `check --all` and counts
gdoctor's requests in the apiserver's audit log.
"""

from __future__ import annotations

from typing import Any

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor.adapters.kube import USER_AGENT, read_cluster
from globalnet_doctor.config import Settings
from globalnet_doctor.diagnose import reads_for
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.kubeconfig import resolve_targets
from globalnet_doctor.registry import load_registry

pytestmark = pytest.mark.lab

BULK_NAMESPACE = "bulk"


def selector_labels(read: Read) -> dict[str, str]:
    labels: dict[str, str] = {}
    for term in filter(None, (read.label_selector or "").split(",")):
        if "!=" in term or term.startswith("!"):
            continue
        key, _, value = term.replace("==", "=").partition("=")
        labels[key.strip()] = value.strip()
    return labels


def body_for(kind: Kind, index: int) -> dict[str, Any]:
    """The least a real apiserver accepts for each kind (custom resources accept anything)."""
    template = {
        "metadata": {"labels": {"app": "bulk"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    bodies: dict[str, dict[str, Any]] = {
        "Pod": {"spec": template["spec"]},
        "Service": {"spec": {"ports": [{"port": 80}], "selector": {"app": "bulk"}}},
        "DaemonSet": {"spec": {"selector": {"matchLabels": {"app": "bulk"}}, "template": template}},
        "Deployment": {
            "spec": {"selector": {"matchLabels": {"app": "bulk"}}, "template": template}
        },
        "EndpointSlice": {"addressType": "IPv4", "endpoints": [{"addresses": ["10.43.0.1"]}]},
        "Endpoints": {"subsets": []},
        "ConfigMap": {"data": {"k": "v"}},
        "APIService": {
            "spec": {
                "group": f"bulk{index}.example.com",
                "version": "v1",
                "groupPriorityMinimum": 1,
                "versionPriority": 1,
                "insecureSkipTLSVerify": True,
                "service": {"namespace": "default", "name": "none"},
            }
        },
    }
    return bodies.get(kind.kind, {"spec": {}})


def bulk(reads: list[Read], api_versions: dict[Kind, str], count: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    if any(r.kind.namespaced for r in reads):
        objects.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BULK_NAMESPACE}}
        )
    for read in reads:
        if read.kind not in api_versions or read.kind.kind == "Namespace":
            continue
        namespace = read.namespace or BULK_NAMESPACE
        for i in range(count):
            metadata: dict[str, Any] = {
                "name": f"bulk-{read.kind.resource}-{i}",
                "labels": selector_labels(read),
            }
            if read.kind.namespaced:
                metadata["namespace"] = namespace
            objects.append(
                {
                    "apiVersion": api_versions[read.kind],
                    "kind": read.kind.kind,
                    "metadata": metadata,
                    **body_for(read.kind, i),
                }
            )
    # One object per distinct (kind, namespace, name): several reads may share a place.
    unique = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects
    }
    return list(unique.values())


def requests_for_one_run(lab, objects: list[dict[str, Any]]) -> int:
    lab.reset()
    lab.apply_many("member1", objects)
    before = len(lab.audit_events("member1", USER_AGENT))
    run = gdoctor(
        "check",
        "--all",
        "--probes",
        "-o",
        "json",
        "--kubeconfig",
        str(lab.kubeconfig),
        "--context",
        "member1",
    )
    assert run.code in (0, 1, 3), run.stderr
    return len(lab.audit_events("member1", USER_AGENT)) - before


def test_the_same_requests_for_50_and_500_objects_of_every_kind_every_check_reads(lab, monkeypatch):
    # Pages are the one legitimate growth (one request per PAGE_SIZE objects): with 500 bulk
    # objects, a LIST of all namespaces that also holds the apiserver's own objects (the
    # `kubernetes` Service) would need a second page. Pagination aside, nothing may grow.
    monkeypatch.setattr("globalnet_doctor.adapters.kube.PAGE_SIZE", 100_000)
    reads = [r for r in reads_for(load_registry().checks, Settings()) if r.name is None]
    (target,) = resolve_targets(str(lab.kubeconfig), ("member1",)).targets
    served = read_cluster(target, reads, timeout=10)
    api_versions = {r.kind: v for r in reads if (v := served.api_version(r.kind)) is not None}
    few = requests_for_one_run(lab, bulk(reads, api_versions, 50))
    many = requests_for_one_run(lab, bulk(reads, api_versions, 500))
    assert few == many
