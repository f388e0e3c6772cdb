"""Scenarios without the lab: each cluster's view built from the scenario's objects, then the
engine's real run path (``diagnose.build_report``) over it, in-process, in milliseconds.

The views answer every declared read the way the lab's kube-apiserver v1.20 would: discovery
(the built-in groups plus the lab's CRDs and any the scenario loads decide whether a kind is
served, and at which version), then LIST or GET by kind and API group, namespace, name and label
selector, items in etcd key order, each object as the loader stores it (labelled
``gdoctor-lab/loaded=true``, namespaced objects defaulting to ``default``). What only the server
can say (admission's answer to a dry run, RBAC, defaulting, server-filled fields) is not
imitated: scenarios that depend on it carry ``labOnly: <reason>`` in scenario.yaml and run only
in the lab (tests/lab_tests/test_scenarios.py), which also checks that every other scenario's
offline result equals the lab's.

The run options are those `gdoctor check <expected ids> <args> --no-host` builds (the lab test's
command line), parsed by the CLI's own click command; host checks stay off.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from scenario import CLUSTERS, Object, Scenario
from views_from_objects import answering, with_lab_webhook

from globalnet_doctor.config import SETTING_NAMES, load_settings
from globalnet_doctor.diagnose import build_report, read_host_situation, reads_for
from globalnet_doctor.fixer import Fixer, Observation
from globalnet_doctor.fixspec import FixOptions
from globalnet_doctor.formatters.json import report_to_dict
from globalnet_doctor.formatters.plan import plan_to_dict
from globalnet_doctor.host_situation import HostMode
from globalnet_doctor.kinds import Kind, Read, plan_reads
from globalnet_doctor.registry import Registry, load_fixes, load_registry
from globalnet_doctor.runner import HostOptions, RunOptions, run_checks
from globalnet_doctor.spec import Check
from globalnet_doctor.view import ClusterView, ReadAnswer

# What the lab's kube-apiserver v1.20.2 serves without any CRD: group -> versions, preferred
# first (EndpointSlice is discovery.k8s.io/v1beta1 only before 1.21).
KUBERNETES_VERSION = "v1.20.2"
BUILT_IN_GROUPS: dict[str, tuple[str, ...]] = {
    "": ("v1",),
    "apps": ("v1",),
    "discovery.k8s.io": ("v1beta1",),
    "apiregistration.k8s.io": ("v1", "v1beta1"),
    "admissionregistration.k8s.io": ("v1", "v1beta1"),
    "apiextensions.k8s.io": ("v1", "v1beta1"),
    "rbac.authorization.k8s.io": ("v1", "v1beta1"),
}
LOADED_LABEL = "gdoctor-lab/loaded"


def served_groups(objects: Iterable[Object]) -> dict[str, dict[str, set[str]]]:
    """group -> version -> resources served: the built-in API, the lab's CRDs, and the CRDs
    among ``objects``."""
    from lab.crds import LAB_CRDS

    served: dict[str, dict[str, set[str]]] = {
        group: {version: {"*"} for version in versions}
        for group, versions in BUILT_IN_GROUPS.items()
    }
    for crd in LAB_CRDS:
        served.setdefault(crd.group, {}).setdefault(crd.version, set()).add(crd.plural)
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj["spec"]
        for version in spec.get("versions") or ():
            if version.get("served", True):
                versions = served.setdefault(spec["group"], {})
                versions.setdefault(version["name"], set()).add(spec["names"]["plural"])
    return served


def local_api_services(served: Mapping[str, Mapping[str, set[str]]]) -> list[Object]:
    """The APIServices kube-apiserver's autoregister controller creates for every group-version
    it serves itself (built-in and CRD groups, ``v3.projectcalico.org`` included), each
    Available as a local one. The core group has none."""
    return [
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {
                "name": f"{version}.{group}",
                "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
            },
            "spec": {"group": group, "version": version, "service": None},
            "status": {
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True",
                        "reason": "Local",
                        "message": "Local APIServices are always available",
                    }
                ]
            },
        }
        for group, versions in served.items()
        if group
        for version in versions
    ]


def _served_version(served: Mapping[str, Mapping[str, set[str]]], kind: Kind) -> str | None:
    """As the kube adapter picks it: the server's order, among the versions gdoctor reads."""
    for version, resources in served.get(kind.group, {}).items():
        if kind.versions and version not in kind.versions:
            continue
        if "*" in resources or kind.resource in resources:
            return version
    return None


def stored(obj: Object) -> Object:
    """The object as the lab's loader stores it: labelled, in ``default`` when namespaced and
    given no namespace (cluster-scoped kinds keep none)."""
    metadata = obj.get("metadata") or {}
    labels = {**(metadata.get("labels") or {}), LOADED_LABEL: "true"}
    return {**obj, "metadata": {**metadata, "labels": labels}}


def _key(obj: Object) -> tuple[str, str]:
    """etcd's key order, which LIST answers follow: namespace, then name."""
    metadata = obj.get("metadata", {})
    return (metadata.get("namespace") or "", metadata.get("name", ""))


def _answer(
    read: Read, objects: Sequence[Object], served: Mapping[str, Mapping[str, set[str]]]
) -> ReadAnswer:
    version = _served_version(served, read.kind)
    what = read.kind.qualified
    if version is None:
        if read.kind.group not in served:
            return ReadAnswer(unavailable=f"CRD absent: {what} is not served by this cluster")
        return ReadAnswer(unavailable=f"not served: {what} at any version gdoctor reads")
    api_version = f"{read.kind.group}/{version}" if read.kind.group else version
    namespaced = [
        o
        if not read.kind.namespaced or o["metadata"].get("namespace")
        else {**o, "metadata": {**o["metadata"], "namespace": "default"}}
        for o in objects
    ]
    # The server answers at the version it serves, whatever version an object was created at.
    found = sorted(answering(read, namespaced), key=_key)
    return ReadAnswer(
        tuple({**o, "apiVersion": api_version} for o in found), api_version=api_version
    )


def cluster_view(
    name: str, reads: Sequence[Read], objects: Sequence[Object], observed_at: datetime
) -> ClusterView:
    """Cluster ``name`` as the lab's apiserver would answer ``reads`` with ``objects`` loaded."""
    served = served_groups(objects)
    # Loading the webhook Deployment registers the lab's webhook (tests/lab/core.py).
    loaded = with_lab_webhook(name, objects)
    kept = [*(stored(dict(o)) for o in loaded), *local_api_services(served)]
    answers = {read: _answer(read, kept, served) for read in reads}
    return ClusterView(
        name,
        f"https://{name}.offline",
        observed_at,
        kubernetes_version=KUBERNETES_VERSION,
        answers=answers,
    )


def scenario_views(
    scenario: Scenario, reads: Sequence[Read], observed_at: Mapping[str, datetime] | None = None
) -> list[ClusterView]:
    """The scenario's clusters, observed now, or at ``observed_at[cluster]`` (a lab run's
    moments, so ages such as a Gateway's last report read the same)."""
    moment = datetime.now(UTC)
    return [
        cluster_view(c, reads, scenario.objects[c], (observed_at or {}).get(c, moment))
        for c in CLUSTERS
    ]


def observed_moments(report: Mapping[str, Any]) -> dict[str, datetime]:
    """cluster -> when a run (gdoctor's JSON report) observed it."""
    return {
        c["name"]: datetime.fromisoformat(c["observedAt"].replace("Z", "+00:00"))
        for c in report["clusters"]
        if c.get("observedAt")
    }


@cache
def registry() -> Registry:
    return load_registry()


# `gdoctor check` parameters that are not site settings (cli._prepare_run's named ones).
@dataclass(frozen=True)
class OfflineRun:
    checks: list[type[Check]]
    options: RunOptions


def run_options(scenario: Scenario) -> OfflineRun:
    """The checks and RunOptions `gdoctor check <expected ids> <args> --no-host` builds, its
    arguments parsed by the CLI's own click command (tests/lab_tests/test_scenarios.py runs that
    command line against the lab)."""
    from globalnet_doctor.cli import check as check_command

    argv = [*scenario.expect, *scenario.args, "--no-host"]
    with check_command.make_context("check", argv) as ctx:
        params = dict(ctx.params)
    chosen = registry().select(params["checks"] + params["select"], params["ignore"])
    named = frozenset(c.id for c in registry().select(params["checks"]))
    # The site settings are the parameters named like a Settings field (as the CLI passes them).
    site = {k: v for k, v in params.items() if k in SETTING_NAMES}
    settings = load_settings(params["config_path"], site)
    # As cli._prepare_run builds it; --no-host (above) keeps the machine out.
    flag = params["host"]
    mode = HostMode.AUTO if flag is None else HostMode.ON if flag else HostMode.OFF
    host = HostOptions(mode, params["root"] or Path("/"), params["resolv_conf"])
    return OfflineRun(
        list(chosen), RunOptions(settings=settings, probes=params["probes"], named=named, host=host)
    )


def run_offline(
    scenario: Scenario, observed_at: Mapping[str, datetime] | None = None
) -> dict[str, Any]:
    """The JSON report (as ``gdoctor check -o json`` prints it) of the scenario, offline; each
    cluster observed now or at ``observed_at[cluster]``."""
    run = run_options(scenario)
    started, clock = datetime.now(UTC), time.perf_counter()
    reads = reads_for(run.checks, run.options.settings, HostMode.OFF)
    views = scenario_views(scenario, reads, observed_at)
    host = read_host_situation(run.checks, views, run.options)
    report = build_report(run.checks, views, run.options, started, clock, host=host)
    return report_to_dict(report)


def comparable(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a lab run and an offline run of one scenario must agree on: every result's check,
    cluster, status, severity, skip reason and error, and its findings' severity, message and
    resources. Timings, observedAt, servers, evidence and remediation text are left out."""
    return [
        {
            "check": r["check"],
            "cluster": r["cluster"],
            "status": r["status"],
            "severity": r["severity"],
            "skipReason": r["skipReason"],
            "error": r["error"],
            "findings": [
                {k: f[k] for k in ("severity", "message", "resources")} for f in r["findings"]
            ],
        }
        for r in report["results"]
    ]


def statuses(report: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for result in report["results"]:
        table.setdefault(result["check"], {})[result["cluster"]] = result["status"]
    return table


def fix_plan(scenario: Scenario, fix_id: str) -> dict[str, Any]:
    """``gdoctor fix ID --dry-run -o json``'s plan over the offline views, minus the server's
    answers (each step's ``answer`` stays null): the fix's pure ``plan()`` through
    ``Fixer.plan``, its check run as the fixer runs it (named, so it probes)."""
    run = run_options(scenario)
    check = next(c for c in registry().checks if c.id == fix_id)
    fix = load_fixes(registry())[fix_id]
    settings = run.options.settings
    options = RunOptions(settings=settings, named=frozenset({fix_id}), host=run.options.host)
    reads = plan_reads([*reads_for([check], settings, HostMode.OFF), *fix.reads(settings)])
    views = scenario_views(scenario, reads)
    host = read_host_situation([check], views, options)
    results = run_checks([check], views, options, None, host)
    fixer = Fixer({c.id: c for c in registry().checks}, [], settings, FixOptions())
    reports = fixer.plan(fix, Observation(views, results, host))
    return plan_to_dict(reports, "dry-run", None)


# The moment a re-trigger annotation records (GD301's fix): the views' observedAt.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def render_plan(plan: Mapping[str, Any]) -> str:
    """The plan as a golden file holds it: indented JSON, timestamps as ``<observedAt>``."""
    return _TIMESTAMP.sub("<observedAt>", json.dumps(plan, indent=2)) + "\n"
