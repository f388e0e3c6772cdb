"""Fix plans and outcomes, for people (unified diffs) and for tools (JSON, schema in docs/)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

import yaml

from globalnet_doctor.fixer import FixReport, StepReport

PLAN_SCHEMA_VERSION = 1
_HIDDEN_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
)


def _shown(obj: Any) -> list[str]:
    if obj is None:
        return []
    copy = json.loads(json.dumps(obj))
    for key in _HIDDEN_METADATA:
        copy.get("metadata", {}).pop(key, None)
    text: str = yaml.safe_dump(copy, sort_keys=True, default_flow_style=False, width=1000)
    return text.splitlines(keepends=True)


def step_diff(step: StepReport) -> str:
    change = step.change
    where = f"{change.namespace}/" if change.namespace else ""
    label = f"{change.cluster}/{change.kind.kind}/{where}{change.name}"
    before = _shown(change.before)
    after = _shown(change.after)
    return "".join(difflib.unified_diff(before, after, fromfile=f"a/{label}", tofile=f"b/{label}"))


def render_text(reports: Sequence[FixReport], run_id: str | None = None) -> str:
    lines: list[str] = []
    if not reports:
        return "nothing to fix: no selected check fails\n"
    for report in reports:
        lines.append(
            f"{report.fix} {report.check_name} on {report.cluster} [{report.safety}]: "
            f"{report.outcome}" + (f" ({report.detail})" if report.detail else "")
        )
        for step in report.steps:
            change = step.change
            mark = " IRREVERSIBLE" if change.irreversible else ""
            answer = f" -> {step.answer}" if step.answer else ""
            lines.append(f"  - {change.describe()}{mark}: {change.why}{answer}")
            diff = step_diff(step)
            if diff and change.action != "delete":
                lines.extend("    " + line for line in diff.rstrip("\n").split("\n"))
    if run_id:
        lines.append("")
        lines.append(f"journal: run {run_id} (gdoctor undo {run_id})")
    return "\n".join(lines) + "\n"


def plan_to_dict(reports: Sequence[FixReport], mode: str, run_id: str | None) -> dict[str, Any]:
    return {
        "schemaVersion": PLAN_SCHEMA_VERSION,
        "mode": mode,
        "runId": run_id,
        "fixes": [
            {
                "fix": r.fix,
                "name": r.check_name,
                "cluster": r.cluster,
                "safety": r.safety,
                "outcome": r.outcome,
                "detail": r.detail,
                "steps": [_step(s) for s in r.steps],
            }
            for r in reports
        ],
    }


def _step(step: StepReport) -> dict[str, Any]:
    change = step.change
    obj = change.after if change.after is not None else change.before
    return {
        "action": change.action,
        "cluster": change.cluster,
        "apiVersion": (obj or {}).get("apiVersion"),
        "kind": change.kind.kind,
        "namespace": change.namespace,
        "name": change.name,
        "why": change.why,
        "irreversible": change.irreversible,
        "diff": step_diff(step) if change.action != "delete" else "",
        "answer": step.answer or None,
    }
