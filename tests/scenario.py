"""Scenario folders: the objects each lab cluster holds, and the results expected of them.

A scenario folder is named by its outcome (``...-FAIL``, ``...-PASS``, ``...-SKIP``) and holds
``scenario.yaml`` (``base``, ``remove``, ``expect``, optional ``args``: extra ``gdoctor check``
options such as ``--external-host``) plus one folder per cluster of YAML files. Optional keys:
``messages`` (check -> cluster -> a substring, or a list of them, that some finding's message
of that result contains; checked offline and in the lab), ``labOnly: <reason>`` (the results
depend on the real apiserver's own answers, so the scenario runs only in the lab, not in
tests/offline), and beside it ``fix-plan-GDnnn.json``, the golden plan of fix GDnnn over the
scenario's offline views (tests/offline/test_offline_scenarios.py).
Objects in the scenario replace the base's objects with the same apiVersion, kind, namespace and
name; ``remove`` drops base objects (``Kind/namespace/name`` or ``Kind/name``).

``upstream`` (cluster -> files under tests/upstream/) loads manifests as their projects ship
them, unmodified, after the base and before the scenario's own folder: every object in them
except those the v1.20 lab cannot hold (``left_out``; tests/upstream/README.md). What the
controllers would have created or written is the scenario's: its own objects, and
``*.status.yaml`` files in a cluster folder, whose documents (apiVersion, kind, metadata.name
and namespace, status) set the status of an object already loaded, upstream ones included.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCENARIOS = Path(__file__).parent / "scenarios"
UPSTREAM = Path(__file__).parent / "upstream"
BASES = SCENARIOS / "_base"
CLUSTERS = ("member1", "member2", "member3")

Object = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    path: Path
    objects: dict[str, list[Object]]
    expect: dict[str, dict[str, str]]
    """check id -> cluster -> status."""
    description: str = ""
    args: tuple[str, ...] = ()
    """Extra `gdoctor check` options the scenario runs with (site settings such as hosts)."""
    lab_only: str | None = None
    """Why the scenario needs the real apiserver (``labOnly`` in scenario.yaml): it then runs
    only in the lab, not offline (tests/offline)."""
    messages: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """check id -> cluster -> substrings that some finding's message of that result contains
    (``messages`` in scenario.yaml; a string or a list of strings per cluster)."""

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def _identity(obj: Object) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata", {})
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"])


def _removal_key(obj: Object) -> str:
    metadata = obj.get("metadata", {})
    parts = [obj["kind"], metadata.get("namespace"), metadata["name"]]
    return "/".join(p for p in parts if p)


# libyaml's safe loader when PyYAML has it: every scenario re-reads the whole base, and the
# pure-Python loader makes that the slowest part of the contract tests.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NOW = re.compile(r"\$\{NOW([+-][0-9]+)?\}")


def _with_clock(text: str, now: int) -> str:
    """``${NOW}`` and ``${NOW-60}`` become unix seconds at load time, so freshness stays relative
    to the moment gdoctor reads the lab (Gateway update-timestamps, for instance)."""
    return _NOW.sub(lambda m: str(now + int(m.group(1) or 0)), text)


# file -> (its modification time and size, its documents as JSON text): a file without ${NOW}
# is parsed once per process, and each load gets fresh objects from json's C decoder (every
# scenario re-reads the whole base; YAML parsing it each time took seconds).
_PARSED: dict[Path, tuple[tuple[int, int], str]] = {}


def _documents(path: Path, clock: int) -> list[Object]:
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == stamp:
        documents: list[Object] = json.loads(cached[1])
        return documents
    text = path.read_text()
    documents = [d for d in yaml.load_all(_with_clock(text, clock), Loader=_LOADER) if d]
    if not _NOW.search(text):
        _PARSED[path] = (stamp, json.dumps(documents))
    return documents


def read_cluster_folder(folder: Path, now: int | None = None) -> list[Object]:
    clock = int(time.time()) if now is None else now
    objects: list[Object] = []
    for path in sorted(folder.glob("*.yaml")):
        if not path.name.endswith(STATUS_SUFFIX):
            objects.extend(_documents(path, clock))
    return objects


STATUS_SUFFIX = ".status.yaml"

# (apiVersion, kind) in upstream manifests that kube-apiserver v1.20 does not serve: the loader
# leaves them out (tests/upstream/README.md lists them).
UNSERVED_BY_THE_LAB = {
    ("policy/v1", "PodDisruptionBudget"): "policy/v1 is served from Kubernetes 1.21",
}


def _lab_crd_names() -> frozenset[str]:
    from lab.crds import LAB_CRDS

    return frozenset(crd.name for crd in LAB_CRDS)


def _calls_lab_webhook(obj: Object) -> bool:
    from lab.webhook import WEBHOOK_NAMESPACE

    return any(
        ((webhook.get("clientConfig") or {}).get("service") or {}).get("namespace")
        == WEBHOOK_NAMESPACE
        for webhook in obj.get("webhooks") or ()
    )


def left_out(obj: Object) -> str | None:
    """Why an upstream object is not loaded into the lab, or None when it is."""
    reason = UNSERVED_BY_THE_LAB.get((obj.get("apiVersion"), obj.get("kind")))
    if reason is not None:
        return reason
    name = (obj.get("metadata") or {}).get("name")
    if obj.get("kind") == "ValidatingWebhookConfiguration" and _calls_lab_webhook(obj):
        # The apiservers cannot reach pods: the lab registers its own configuration for the
        # externalip-webhook, driven by the Deployment's arguments (tests/lab/webhook.py).
        return "the lab's own configuration of the externalip-webhook plays it"
    if obj.get("kind") == "CustomResourceDefinition" and name in _lab_crd_names():
        # The lab installs it at startup, with an open schema, for every scenario.
        return "the lab's own CustomResourceDefinition of that name is installed at startup"
    return None


def read_upstream(relative: str) -> list[Object]:
    """The objects of one upstream file the lab can hold, as shipped."""
    path = UPSTREAM / relative
    assert path.is_file(), f"no upstream file {path}"
    first = path.read_text().splitlines()[0]
    assert first.startswith("# upstream: "), f"{path}: the first line must name its source"
    return [o for o in _documents(path, 0) if left_out(o) is None]


def _set_statuses(path: Path, folder: Path, objects: list[Object]) -> None:
    by_identity = {_identity(o): o for o in objects}
    for status_file in sorted(folder.glob(f"*{STATUS_SUFFIX}")):
        for overlay in _documents(status_file, int(time.time())):
            target = by_identity.get(_identity(overlay))
            assert target is not None, (
                f"{path}: {status_file.name} sets the status of an object not loaded: "
                f"{_identity(overlay)}"
            )
            target["status"] = overlay["status"]


def load_scenario(path: Path) -> Scenario:
    meta = yaml.safe_load((path / "scenario.yaml").read_text()) or {}
    objects: dict[str, list[Object]] = {c: [] for c in CLUSTERS}
    if meta.get("base") and "/" in meta["base"]:
        # Another scenario as the starting point (e.g. the field report plus a host).
        objects = {c: list(o) for c, o in load_scenario(SCENARIOS / meta["base"]).objects.items()}
    elif meta.get("base"):
        base = BASES / meta["base"]
        for cluster in CLUSTERS:
            objects[cluster] = read_cluster_folder(base / cluster)
    for cluster, removed in (meta.get("remove") or {}).items():
        missing = set(removed) - {_removal_key(o) for o in objects[cluster]}
        assert not missing, f"{path}: remove names objects the base lacks: {sorted(missing)}"
        objects[cluster] = [o for o in objects[cluster] if _removal_key(o) not in removed]
    upstream = meta.get("upstream") or {}
    assert set(upstream) <= set(CLUSTERS), f"{path}: upstream names unknown clusters"
    for cluster in CLUSTERS:
        folder = path / cluster
        merged = {_identity(o): o for o in objects[cluster]}
        for relative in upstream.get(cluster) or ():
            for obj in read_upstream(relative):
                merged[_identity(obj)] = obj
        for obj in read_cluster_folder(folder) if folder.is_dir() else ():
            merged[_identity(obj)] = obj
        objects[cluster] = list(merged.values())
        if folder.is_dir():
            _set_statuses(path, folder, objects[cluster])
    args = tuple(str(a) for a in meta.get("args") or ())
    lab_only = meta.get("labOnly")
    assert lab_only is None or (isinstance(lab_only, str) and lab_only.strip()), (
        f"{path}: labOnly must say why the scenario needs the real apiserver"
    )
    return Scenario(
        path,
        objects,
        _expectations(path, meta),
        meta.get("description", ""),
        args,
        lab_only,
        _messages(path, meta),
    )


def _messages(path: Path, meta: dict[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    table: dict[str, dict[str, tuple[str, ...]]] = {}
    for check, clusters in (meta.get("messages") or {}).items():
        for cluster, wanted in clusters.items():
            texts = (wanted,) if isinstance(wanted, str) else tuple(wanted)
            assert texts, f"{path}: messages.{check}.{cluster} is empty"
            assert all(isinstance(t, str) and t for t in texts), (
                f"{path}: messages.{check}.{cluster} must be a substring or a list of them"
            )
            table.setdefault(check, {})[cluster] = texts
    return table


def message_misses(scenario: Scenario, report: dict[str, Any]) -> list[str]:
    """The ``messages`` assertions of the scenario that ``report`` (gdoctor's JSON report)
    does not meet, each as a sentence; empty when all hold."""
    misses = []
    for check, clusters in scenario.messages.items():
        for cluster, texts in clusters.items():
            found = [
                f["message"]
                for r in report["results"]
                if r["check"] == check and r["cluster"] == cluster
                for f in r["findings"]
            ]
            misses.extend(
                f"{check} on {cluster}: no finding says {text!r} (messages: {found})"
                for text in texts
                if not any(text in message for message in found)
            )
    return misses


def fix_plan_goldens(path: Path) -> dict[str, Path]:
    """fix id -> the scenario's golden plan of that fix (``fix-plan-GDnnn.json``)."""
    return {p.stem.removeprefix("fix-plan-"): p for p in sorted(path.glob("fix-plan-*.json"))}


def _expectations(path: Path, meta: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``expect`` in scenario.yaml, or expected.json beside it: [{check, cluster, status}]."""
    expected = path / "expected.json"
    if not expected.is_file():
        return dict(meta.get("expect") or {})
    assert "expect" not in meta, f"{path}: give expectations in one place"
    table: dict[str, dict[str, str]] = {}
    for row in json.loads(expected.read_text()):
        table.setdefault(row["check"], {})[row["cluster"]] = row["status"]
    return table


def scenario_paths(under: Path = SCENARIOS) -> Iterator[Path]:
    for marker in sorted(under.glob("**/scenario.yaml")):
        if BASES not in marker.parents:
            yield marker.parent


@cache
def all_scenarios() -> tuple[Scenario, ...]:
    """Every scenario folder, loaded once per session: for what does not depend on the moment
    of loading (expectations, markers, assertions). ``${NOW}`` is resolved at that moment, so a
    test that judges freshness loads its scenario again (``load_scenario``)."""
    return tuple(load_scenario(path) for path in scenario_paths())
