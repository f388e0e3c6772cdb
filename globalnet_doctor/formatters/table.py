"""Human output: the diagnosis on one screen. Root causes first, with the command that fixes
each; then every other failure, one line each; passes counted, skips counted by reason. With
``verbose``, each finding's evidence and remedy follow. Every line fits the terminal's width and
every string from a cluster or a bundle is escaped (terminal.fit)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from globalnet_doctor.model import CheckResult, Report, RootCause, Status
from globalnet_doctor.spec import Check
from globalnet_doctor.terminal import fit, printable

GROUPS_SHOWN = 3
"""Distinct messages shown per check before the rest is counted (``-v`` shows all)."""
CLUSTERS_WIDTH = 32


@dataclass(frozen=True)
class _Problem:
    """One message of one check, and every cluster that reports it."""

    check: str
    message: str
    clusters: tuple[str, ...]
    fix: str | None


def render(
    report: Report,
    width: int = 120,
    verbose: bool = False,
    show_passed: bool = False,
) -> str:
    lines = [fit(_clusters_read(report), width)]
    for cluster in report.clusters:
        if cluster.skipped is not None:
            lines.append(fit(f"  context {cluster.name} skipped: {cluster.skipped}", width))
        elif not cluster.reachable:
            lines.append(fit(f"  cluster {cluster.name} unreachable: {cluster.error}", width))
    problems = _problems(report.results)
    shown: set[tuple[str, str]] = set()
    if report.root_causes:
        lines += ["", "Fix these first (root causes, the most explained first):"]
        for cause in report.root_causes:
            first = next(p for p in problems if p.check == cause.check)
            shown.add((first.check, first.message))
            lines.append(_line(first, width))
            hint = _fix_hint(first, cause)
            if hint:
                lines.append(fit(f"         {hint}", width))
    rest = [p for p in problems if (p.check, p.message) not in shown]
    if rest:
        title = "Also failing:" if report.root_causes else "Failing:"
        lines += ["", title, *_failure_lines(rest, width, verbose)]
    errors = [r for r in report.results if r.status is Status.ERROR]
    if errors:
        lines += ["", "Could not judge:"]
        lines += [fit(f"  {r.check}  {r.cluster}  {r.error or ''}", width) for r in errors]
    lines += ["", *_counts(report, width)]
    if show_passed:
        lines += _passed(report.results, width)
    if verbose:
        details = _details(report.results)
        if details:
            lines += ["", *(w for line in details for w in _wrapped(line, width))]
    elif problems:
        lines.append(
            fit("Evidence and remedies: add -v. A check explained: gdoctor explain ID.", width)
        )
    return "\n".join(lines) + "\n"


def _wrapped(line: str, width: int) -> list[str]:
    """A detail line folded to the width, its continuation indented under its text."""
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(
        printable(line), width, subsequent_indent=indent, break_on_hyphens=False
    ) or [""]


def _clusters_read(report: Report) -> str:
    read = [c.name for c in report.clusters if c.reachable]
    missed = [c for c in report.clusters if not c.reachable and c.skipped is None]
    text = f"gdoctor read {len(read)} cluster{'s' * (len(read) != 1)}"
    text += f" ({', '.join(read)})" if read else ""
    if missed:
        text += f"; {len(missed)} unreachable ({', '.join(c.name for c in missed)})"
    return text


def _problems(results: Sequence[CheckResult]) -> list[_Problem]:
    """Each distinct message of each failing check, with the clusters reporting it, in report
    order."""
    grouped: dict[tuple[str, str], list[str]] = {}
    fixes: dict[str, str | None] = {}
    for result in results:
        for finding in result.findings:
            clusters = grouped.setdefault((result.check, finding.message), [])
            if result.cluster not in clusters:
                clusters.append(result.cluster)
            if finding.remediation is not None and finding.remediation.fix:
                fixes[result.check] = finding.remediation.fix
    return [
        _Problem(check, message, tuple(clusters), fixes.get(check))
        for (check, message), clusters in grouped.items()
    ]


def _fix_hint(problem: _Problem, cause: RootCause) -> str:
    """``→ gdoctor fix GD101; likely explains 5 other failures``, or nothing."""
    parts = [f"gdoctor fix {problem.check}"] if problem.fix else []
    if cause.explains:
        count = len(cause.explains)
        parts.append(f"likely explains {count} other failure{'s' * (count != 1)}")
    return f"→ {'; '.join(parts)}" if parts else ""


def _line(problem: _Problem, width: int) -> str:
    clusters = fit(", ".join(problem.clusters), CLUSTERS_WIDTH)
    return fit(f"  {problem.check}  {clusters}: {problem.message}", width)


def _failure_lines(problems: Sequence[_Problem], width: int, verbose: bool) -> list[str]:
    lines: list[str] = []
    for check in dict.fromkeys(p.check for p in problems):
        mine = [p for p in problems if p.check == check]
        kept = mine if verbose else mine[:GROUPS_SHOWN]
        lines += [_line(p, width) for p in kept]
        if len(mine) > len(kept):
            more = len(mine) - len(kept)
            lines.append(fit(f"  {check}  … and {more} more (gdoctor check {check} -v)", width))
    return lines


def _counts(report: Report, width: int) -> list[str]:
    counts = report.summary()
    lines = [", ".join(f"{counts[s.value]} {s.value}" for s in Status)]
    reasons: dict[str, int] = {}
    for result in report.results:
        if result.status is Status.SKIP:
            reason = result.skip_reason or "no reason given"
            reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        said = "; ".join(f"{reason} ({n})" for reason, n in reasons.items())
        lines.append(fit(f"skipped: {said}", width))
    return lines


def _passed(results: Iterable[CheckResult], width: int) -> list[str]:
    by_check: dict[str, list[str]] = {}
    for result in results:
        if result.status is Status.PASS:
            by_check.setdefault(f"{result.check} {result.name}", []).append(result.cluster)
    lines = ["", "Passed:"] if by_check else []
    for check, clusters in by_check.items():
        lines.append(fit(f"  {check}: {', '.join(clusters)}", width))
    return lines


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
