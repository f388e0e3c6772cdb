"""Plan, preview, apply, verify and undo fixes: the careful operator's workflow, automated.

Every change is planned from a fresh read, shown, journaled with its prior state, applied with
the read resourceVersion as precondition (a concurrent edit makes it re-plan, never clobber),
rolled back if a later step of the same fix fails, and verified by re-running the check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from globalnet_doctor.config import Settings
from globalnet_doctor.diagnose import probe_planner, reads_for
from globalnet_doctor.fixspec import Fix, FixContext, FixOptions, KubeChange, PlanError
from globalnet_doctor.journal import Journal, JournalEntry
from globalnet_doctor.kinds import plan_reads
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.model import CheckResult, Status
from globalnet_doctor.runner import RunOptions, run_checks
from globalnet_doctor.spec import Check
from globalnet_doctor.view import ClusterView

FIXED = "fixed"
STILL_FAILING = "still failing"
AWAITING = "awaiting reconciliation"
NOTHING_TO_DO = "nothing to do"
PENDING = "changes pending"
ROLLED_BACK = "failed, rolled back"
NOT_PLANNED = "not planned"

Progress = Callable[[str], None]


@dataclass
class StepReport:
    change: KubeChange
    answer: str = ""
    """What the server said (dry run or apply): "ok", or its message."""


@dataclass
class FixReport:
    fix: str
    check_name: str
    cluster: str
    safety: str
    steps: list[StepReport] = field(default_factory=list)
    outcome: str = NOTHING_TO_DO
    detail: str = ""


@dataclass(frozen=True)
class Observation:
    views: list[ClusterView]
    results: list[CheckResult]

    def result(self, check_id: str, cluster: str) -> CheckResult | None:
        return next((r for r in self.results if r.check == check_id and r.cluster == cluster), None)


class Fixer:
    def __init__(
        self,
        checks: dict[str, type[Check]],
        targets: Sequence[Target],
        settings: Settings,
        options: FixOptions,
        progress: Progress | None = None,
    ) -> None:
        self.checks = checks
        self.targets = list(targets)
        self.settings = settings
        self.options = options
        self.progress = progress

    # -- observing and planning ---------------------------------------------------------

    def observe(self, fix: type[Fix]) -> Observation:
        from globalnet_doctor.adapters.kube import read_clusters

        check = self.checks[fix.id]
        run_options = RunOptions(settings=self.settings)
        reads = plan_reads([*reads_for([check], self.settings), *fix.reads(self.settings)])
        views = read_clusters(
            self.targets,
            reads,
            self.settings.request_timeout,
            None,
            probe_planner([check], run_options),
        )
        return Observation(views, run_checks([check], views, run_options))

    def plan(self, fix: type[Fix], seen: Observation | None = None) -> list[FixReport]:
        """One report per cluster where the check fails, with the planned steps."""
        seen = seen or self.observe(fix)
        reports = []
        for view in seen.views:
            result = seen.result(fix.id, view.name)
            if result is None or result.status is not Status.FAIL:
                continue
            report = FixReport(fix.id, self.checks[fix.id].name, view.name, fix.safety.value)
            context = FixContext(view, seen.views, result, self.settings, self.options)
            try:
                steps = fix().plan(context)
            except PlanError as exc:
                report.outcome, report.detail = NOT_PLANNED, str(exc)
                reports.append(report)
                continue
            report.steps = [StepReport(step) for step in steps]
            report.outcome = PENDING if steps else NOTHING_TO_DO
            reports.append(report)
        return reports

    # -- previewing and applying --------------------------------------------------------

    def dry_run(self, reports: Sequence[FixReport]) -> None:
        """Sends every planned change with dryRun=All: admission judges it, nothing changes."""
        for report in reports:
            for step in report.steps:
                with self._writer(step.change.cluster) as writer:
                    step.answer = _answer(_send(writer, step.change, dry_run=True))

    def apply(
        self,
        fix: type[Fix],
        journal: Journal,
        wait: float = 0.0,
        clusters: set[str] | None = None,
    ) -> list[FixReport]:
        """Plans from a fresh read, applies cluster by cluster (only ``clusters`` when given),
        then verifies."""
        reports = [r for r in self.plan(fix) if clusters is None or r.cluster in clusters]
        for report in reports:
            if report.outcome != PENDING:
                continue
            self._apply_one(fix, report, journal)
        if any(r.outcome == PENDING for r in reports):
            self._verify(fix, [r for r in reports if r.outcome == PENDING], wait)
        return reports

    def _apply_one(self, fix: type[Fix], report: FixReport, journal: Journal) -> None:
        applied: list[JournalEntry] = []
        replanned = False
        index = 0
        while index < len(report.steps):
            step = report.steps[index]
            entry = journal.record(fix.id, step.change)
            with self._writer(step.change.cluster) as writer:
                result = _send(writer, step.change, dry_run=False)
            step.answer = _answer(result)
            if result.ok:
                entry.state, entry.stored = "applied", result.stored
                journal.save()
                applied.append(entry)
                index += 1
                continue
            entry.state = "failed"
            journal.save()
            if result.conflict and not replanned and not applied:
                # Someone edited the object since the plan: plan again from what is there now.
                replanned = True
                fresh = [r for r in self.plan(fix) if r.cluster == report.cluster]
                report.steps = fresh[0].steps if fresh else []
                report.detail = "an object changed after planning; planned again"
                if not report.steps:
                    report.outcome = NOTHING_TO_DO
                    return
                index = 0
                continue
            self._roll_back(applied, journal)
            report.outcome = ROLLED_BACK
            report.detail = f"{step.change.describe()} failed: {step.answer}" + (
                f"; rolled back {len(applied)} applied step(s)" if applied else ""
            )
            return

    def _roll_back(self, applied: list[JournalEntry], journal: Journal) -> None:
        for entry in reversed(applied):
            if entry.change.irreversible:
                continue
            with self._writer(entry.change.cluster) as writer:
                if restore(writer, entry.change).ok:
                    entry.state = "rolled-back"
            journal.save()

    def _verify(self, fix: type[Fix], reports: list[FixReport], wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            seen = self.observe(fix)
            for report in reports:
                result = seen.result(fix.id, report.cluster)
                report.outcome, detail = self._judge(fix, seen, report, result)
                # Keep what happened while applying (a re-plan) unless the verdict says more.
                report.detail = detail or report.detail
            undecided = [r for r in reports if r.outcome == AWAITING]
            if not undecided or time.monotonic() >= deadline:
                return
            if self.progress is not None:
                self.progress(f"waiting for {', '.join(r.cluster for r in undecided)}")
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))

    def _judge(
        self, fix: type[Fix], seen: Observation, report: FixReport, result: CheckResult | None
    ) -> tuple[str, str]:
        if result is None or result.status is Status.PASS:
            return FIXED, ""
        if result.status is not Status.FAIL:
            return STILL_FAILING, f"the check now reports {result.status.value}"
        view = next(v for v in seen.views if v.name == report.cluster)
        waiting_for = fix().awaiting(
            FixContext(view, seen.views, result, self.settings, self.options)
        )
        if waiting_for is not None:
            return AWAITING, waiting_for
        return STILL_FAILING, result.findings[0].message if result.findings else ""

    def _writer(self, cluster: str) -> Any:
        from globalnet_doctor.adapters.kube import KubeWriter

        target = next(t for t in self.targets if t.name == cluster)
        return KubeWriter(target, self.settings.request_timeout)


def _send(writer: Any, change: KubeChange, dry_run: bool) -> Any:
    if change.action == "create":
        return writer.create(change.kind, change.after, dry_run=dry_run)
    if change.action == "delete":
        return writer.delete(change.kind, change.before, dry_run=dry_run)
    return writer.update(change.kind, change.after, dry_run=dry_run)


def _answer(result: Any) -> str:
    return "ok" if result.ok else f"HTTP {result.status}: {result.message}"


_SERVER_MANAGED = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def restore(writer: Any, change: KubeChange) -> Any:
    """Puts an object back as it was before ``change``: the prior object, at the current
    resourceVersion, server-managed fields left to the server. A created object is deleted."""
    if change.action == "create":
        current = writer.get(change.kind, change.after)
        return writer.delete(change.kind, current) if current is not None else _Done()
    prior = dict(change.before or {})
    current = writer.get(change.kind, prior)
    metadata = {k: v for k, v in (prior.get("metadata") or {}).items() if k not in _SERVER_MANAGED}
    if current is None:
        return writer.create(change.kind, {**prior, "metadata": metadata})
    metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
    return writer.update(change.kind, {**prior, "metadata": metadata})


class _Done:
    ok = True
    status = 200
    message = ""


def undo(journal: Journal, targets: Sequence[Target], settings: Settings) -> list[str]:
    """Restores every applied, reversible change of the run, newest first; returns one line
    per change saying what happened (irreversible steps are named as such)."""
    from globalnet_doctor.adapters.kube import KubeWriter

    lines = []
    by_name = {t.name: t for t in targets}
    for entry in reversed(journal.entries):
        change = entry.change
        if entry.state != "applied":
            continue
        if change.irreversible:
            lines.append(f"cannot undo (irreversible): {change.describe()} ({change.why})")
            continue
        target = by_name.get(change.cluster)
        if target is None:
            lines.append(f"not undone: context {change.cluster} is not in the kubeconfig")
            continue
        with KubeWriter(target, settings.request_timeout) as writer:
            result = restore(writer, change)
        if result.ok:
            entry.state = "undone"
            lines.append(f"undone: {change.describe()}")
        else:
            lines.append(
                f"failed to undo {change.describe()}: HTTP {result.status} {result.message}"
            )
        journal.save()
    return lines
