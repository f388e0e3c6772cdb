"""Fix plans and outcomes, for people (unified diffs) and for tools (JSON, schema in docs/)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

import yaml

from globalnet_doctor.fixer import FixReport, StepReport
from globalnet_doctor.fixspec import FileChange, HostChange, KubeChange, SysctlChange

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


def _text_lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    # surrogateescape: a byte that is not UTF-8 is shown, never a reason to fail.
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def host_diff(change: HostChange) -> str:
    """Files as a unified diff; a sysctl or a route as one ``before → after`` line."""
    if isinstance(change, FileChange):
        before, after = _text_lines(change.before), _text_lines(change.after)
        fromfile = f"a{change.real_path}" if change.before is not None else "/dev/null"
        diff = difflib.unified_diff(before, after, fromfile, f"b{change.real_path}")
        # A last line without a newline still ends its line in the diff, as `diff` marks it.
        missing = "\n\\ No newline at end of file\n"
        return "".join(x if x.endswith("\n") else x + missing for x in diff)
    if isinstance(change, SysctlChange):
        return f"{change.name}: {change.before} → {change.after}\n"
    replaced = change.before.describe() if change.before is not None else "(none)"
    return f"route {change.destination}: {replaced} → {change.route.describe()}\n"


def step_diff(step: StepReport) -> str:
    change = step.change
    if not isinstance(change, KubeChange):
        return host_diff(change)
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
            f"{report.outcome.value}" + (f" ({report.detail})" if report.detail else "")
        )
        for step in report.steps:
            change = step.change
            mark = " IRREVERSIBLE" if change.irreversible else ""
            answer = f" -> {step.answer}" if step.answer else ""
            lines.append(f"  - {change.describe()}{mark}: {change.why}{answer}")
            diff = step_diff(step)
            if diff and change.action != "delete":
                lines.extend("    " + line for line in diff.rstrip("\n").split("\n"))
            advice = getattr(change, "advice", "")
            if advice:
                lines.append(f"    to persist it: {advice}")
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
                "outcome": r.outcome.value,
                "detail": r.detail,
                "steps": [_step(s) for s in r.steps],
            }
            for r in reports
        ],
    }


def _host_step(step: StepReport, change: HostChange) -> dict[str, Any]:
    """A host step keeps every key a Kubernetes step has (kind ``File``, ``Sysctl`` or
    ``Route``; apiVersion and namespace null) and adds ``host`` with its details."""
    details: dict[str, Any]
    if isinstance(change, FileChange):
        kind, name = "File", change.path
        details = {
            "type": "file",
            "path": change.path,
            "realPath": change.real_path,
            "how": change.how.value,
            "backup": change.backup,
        }
    elif isinstance(change, SysctlChange):
        kind, name = "Sysctl", change.name
        details = {"type": "sysctl", "key": change.name, "before": change.before}
        details["after"] = change.after
    else:
        kind, name = "Route", change.destination
        details = {
            "type": "route",
            "destination": change.destination,
            "gateway": change.gateway,
            "device": change.device,
            "replaces": change.before.describe() if change.before is not None else None,
            "persist": change.advice or None,
        }
    return {
        "action": change.action,
        "cluster": change.cluster,
        "apiVersion": None,
        "kind": kind,
        "namespace": None,
        "name": name,
        "why": change.why,
        "irreversible": change.irreversible,
        "diff": host_diff(change),
        "answer": step.answer or None,
        "host": details,
    }


def _step(step: StepReport) -> dict[str, Any]:
    change = step.change
    if not isinstance(change, KubeChange):
        return _host_step(step, change)
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
