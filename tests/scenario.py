"""Scenario folders: the objects each lab cluster holds, and the results expected of them.

A scenario folder is named by its outcome (``...-FAIL``, ``...-PASS``, ``...-SKIP``) and holds
``scenario.yaml`` (``base``, ``remove``, ``expect``, optional ``args``: extra ``gdoctor check``
options such as ``--external-host``) plus one folder per cluster of YAML files.
Objects in the scenario replace the base's objects with the same apiVersion, kind, namespace and
name; ``remove`` drops base objects (``Kind/namespace/name`` or ``Kind/name``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCENARIOS = Path(__file__).parent / "scenarios"
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


def read_cluster_folder(folder: Path, now: int | None = None) -> list[Object]:
    clock = int(time.time()) if now is None else now
    objects: list[Object] = []
    for path in sorted(folder.glob("*.yaml")):
        text = _with_clock(path.read_text(), clock)
        objects.extend(d for d in yaml.load_all(text, Loader=_LOADER) if d)
    return objects


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
    for cluster in CLUSTERS:
        folder = path / cluster
        if not folder.is_dir():
            continue
        merged = {_identity(o): o for o in objects[cluster]}
        for obj in read_cluster_folder(folder):
            merged[_identity(obj)] = obj
        objects[cluster] = list(merged.values())
    args = tuple(str(a) for a in meta.get("args") or ())
    return Scenario(path, objects, _expectations(path, meta), meta.get("description", ""), args)


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
