"""`gdoctor diff`: what changed between two reports (or the reports inside two bundles)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globalnet_doctor.errors import UsageError

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Change:
    kind: str
    """appeared, disappeared or changed."""
    key: Key
    """(check, cluster, resource or message)."""
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def load_report(path: Path) -> dict[str, Any]:
    """A JSON report, or the report a bundle recorded."""
    if path.suffix == ".json":
        try:
            report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path} is not a JSON report: {exc}") from None
    else:
        from globalnet_doctor.bundle import BundleError, read_bundle

        try:
            report = read_bundle(path).json("report.json")
        except BundleError as exc:
            raise UsageError(f"cannot use bundle {path}: {exc}") from None
    if not isinstance(report, dict) or report.get("schemaVersion") != 1:
        raise UsageError(f"{path} is not a gdoctor report (schemaVersion 1)")
    return report


def finding_key(result: dict[str, Any], finding: dict[str, Any]) -> Key:
    resources = finding.get("resources") or []
    if resources:
        first = resources[0]
        where = f"{first['namespace']}/" if first.get("namespace") else ""
        subject = f"{first['kind']} {where}{first['name']}"
    else:
        subject = finding.get("message", "")
    return (result["check"], result["cluster"], subject)


def _findings(report: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for result in report.get("results", []):
        for finding in result.get("findings", []):
            key = finding_key(result, finding)
            while key in found:  # several findings about one resource: keep them apart
                key = (key[0], key[1], key[2] + "+")
            found[key] = finding
    return found


def _comparable(finding: dict[str, Any]) -> tuple[str, str, str]:
    return (
        finding.get("severity", ""),
        finding.get("message", ""),
        json.dumps(finding.get("evidence"), sort_keys=True),
    )


def diff_reports(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before, after = _findings(old), _findings(new)
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append(Change("appeared", key, None, after[key]))
        elif key not in after:
            changes.append(Change("disappeared", key, before[key], None))
        elif _comparable(before[key]) != _comparable(after[key]):
            changes.append(Change("changed", key, before[key], after[key]))
    return changes


def render_text(changes: list[Change]) -> str:
    if not changes:
        return "no findings appeared, disappeared or changed\n"
    marks = {"appeared": "+", "disappeared": "-", "changed": "~"}
    lines = []
    for change in changes:
        finding = change.new or change.old or {}
        check, cluster, subject = change.key
        lines.append(
            f"{marks[change.kind]} {check} {cluster} {subject.rstrip('+')}: "
            f"[{finding.get('severity')}] {finding.get('message')}"
        )
        if change.kind == "changed" and change.old is not None:
            lines.append(f"    was: [{change.old.get('severity')}] {change.old.get('message')}")
    return "\n".join(lines) + "\n"


def render_json(changes: list[Change]) -> str:
    return (
        json.dumps(
            [
                {
                    "change": c.kind,
                    "check": c.key[0],
                    "cluster": c.key[1],
                    "subject": c.key[2].rstrip("+"),
                    "old": c.old,
                    "new": c.new,
                }
                for c in changes
            ],
            indent=2,
        )
        + "\n"
    )
