"""Human output: a table of results, then each finding with its evidence and remedy."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tabulate import tabulate

from globalnet_doctor.model import CheckResult, Report, Status
from globalnet_doctor.spec import Check
from globalnet_doctor.terminal import printable

_COLOURS = {
    Status.PASS: "\x1b[32m",
    Status.FAIL: "\x1b[31m",
    Status.SKIP: "\x1b[2m",
    Status.ERROR: "\x1b[35m",
}
_RESET = "\x1b[0m"


def render(report: Report, colour: bool = False) -> str:
    lines: list[str] = []
    for cluster in report.clusters:
        if cluster.skipped is not None:
            lines.append(printable(f"context {cluster.name} skipped: {cluster.skipped}"))
        elif not cluster.reachable:
            lines.append(printable(f"cluster {cluster.name} unreachable: {cluster.error}"))
    # Every cell but the status (coloured here) comes from a cluster or a bundle: escaped.
    rows = [
        [
            *(printable(cell) for cell in (r.check, r.name, r.cluster)),
            _status(r.status, colour),
            r.severity.value,
            printable(_summary(r)),
        ]
        for r in report.results
    ]
    lines.append(
        tabulate(rows, headers=["CHECK", "NAME", "CLUSTER", "STATUS", "SEVERITY", "DETAIL"])
    )
    details = _details(report.results)
    if details:
        lines.extend(["", *(printable(line) for line in details)])
    counts = report.summary()
    lines.append("")
    lines.append(", ".join(f"{counts[s.value]} {s.value}" for s in Status))
    return "\n".join(lines) + "\n"


def render_catalogue(checks: Sequence[type[Check]]) -> str:
    rows = [
        [
            c.id,
            c.name,
            c.severity.value,
            c.scope.value + (" probe" if c.probes else ""),
            c.fix or "-",
            c.title,
        ]
        for c in checks
    ]
    return tabulate(rows, headers=["ID", "NAME", "SEVERITY", "KIND", "FIX", "TITLE"]) + "\n"


def _status(status: Status, colour: bool) -> str:
    return f"{_COLOURS[status]}{status.value}{_RESET}" if colour else status.value


def _summary(result: CheckResult) -> str:
    if result.status is Status.SKIP:
        return result.skip_reason or ""
    if result.status is Status.ERROR:
        return result.error or ""
    if result.findings:
        first = result.findings[0].message
        more = len(result.findings) - 1
        return first if not more else f"{first} (+{more} more)"
    return ""


def _details(results: Sequence[CheckResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        for finding in result.findings:
            lines.append(
                f"{result.check} {result.cluster} [{finding.severity.value}] {finding.message}"
            )
            for resource in finding.resources:
                where = f"{resource.namespace}/" if resource.namespace else ""
                lines.append(f"  resource: {resource.kind} {where}{resource.name}")
            for key, value in finding.evidence.items():
                shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                lines.append(f"  evidence {key}: {shown}")
            if finding.related_clusters:
                lines.append(f"  related clusters: {', '.join(finding.related_clusters)}")
            if finding.remediation is not None:
                fix = f" (gdoctor fix {finding.remediation.fix})" if finding.remediation.fix else ""
                lines.append(f"  remedy: {finding.remediation.text}{fix}")
    return lines
