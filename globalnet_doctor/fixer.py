"""Plan, preview, apply, verify and undo fixes: the careful operator's workflow, automated.

Every change is planned from a fresh read, shown, journaled with its prior state, applied with
the read resourceVersion as precondition (a concurrent edit makes it re-plan, never clobber),
rolled back if a later step of the same fix fails, and verified by re-running the check.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.diagnose import read_everything
from globalnet_doctor.executors import Clusters, ClusterWriter, Executors
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import (
    AdmissionGate,
    Fix,
    FixContext,
    FixOptions,
    PlanError,
    Step,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostFile
from globalnet_doctor.journal import EntryState, Journal, JournalEntry
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.model import HOST, CheckResult, Status
from globalnet_doctor.runner import HostOptions, RunOptions, run_checks
from globalnet_doctor.spec import Check, Scope
from globalnet_doctor.view import ClusterView


class Outcome(enum.StrEnum):
    """What became of one fix in one cluster (its value is the JSON plan's ``outcome``)."""

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
    change: Step
    answer: str = ""
    """What the server said (dry run or apply): "ok", or its message."""


@dataclass
class FixReport:
    fix: str
    check_name: str
    cluster: str
    safety: str
    steps: list[StepReport] = field(default_factory=list)
    outcome: Outcome = Outcome.NOTHING_TO_DO
    detail: str = ""


@dataclass(frozen=True)
class Observation:
    views: list[ClusterView]
    results: list[CheckResult]
    host: HostSituation | None = None
    """The machine, when the check reads it."""
    files: Mapping[str, HostFile] = field(default_factory=dict)
    """The files the fix declared, byte for byte."""

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
        host: HostOptions | None = None,
    ) -> None:
        self.checks = checks
        self.targets = list(targets)
        self.settings = settings
        self.options = options
        self.progress = progress
        self.host = host or HostOptions()
        """How the machine is read (``--host/--no-host``, ``--root``, ``--resolv-conf``)."""
        self._admitted: set[tuple[str, AdmissionGate]] = set()
        """Gates passed in this run: later changes waiting on them go at once."""
        self._clusters = Clusters(self.targets, settings.request_timeout)
        self._executors = Executors(self._clusters)

    # -- observing and planning ---------------------------------------------------------

    def observe(self, fix: type[Fix]) -> Observation:
        check = self.checks[fix.id]
        # The check being fixed counts as named, so its probe (GD301's dry run) plans and
        # verifies the fix with what the apiserver answers, not only the configuration.
        run_options = RunOptions(
            settings=self.settings, named=frozenset({check.id}), host=self.host
        )
        # The machine is read the way `check` reads it (after the clusters, which say which
        # route lookups to make), and the files the fix rewrites byte for byte.
        views, host = read_everything(
            [check], self.targets, run_options, extra_reads=fix.reads(self.settings)
        )
        files: dict[str, HostFile] = {}
        if host is not None and host.applies and host.view is not None:
            from globalnet_doctor.adapters.host_reader import read_host_file

            files = {p: read_host_file(p) for p in fix.host_files(host, self.settings)}
        results = run_checks([check], views, run_options, None, host)
        return Observation(views, results, host, files)

    def _context(
        self, seen: Observation, cluster: str, result: CheckResult, fix: type[Fix]
    ) -> FixContext:
        """The fix's context for one result: a host-scope check's is the owning cluster's
        view (as the runner gives the check), with the machine."""
        if self.checks[fix.id].scope is Scope.HOST:
            view = seen.host.owner_view(seen.views) if seen.host is not None else seen.views[0]
        else:
            view = next(v for v in seen.views if v.name == cluster)
        return FixContext(
            view, seen.views, result, self.settings, self.options, seen.host, seen.files
        )

    def _failing(self, fix: type[Fix], seen: Observation) -> list[tuple[str, CheckResult]]:
        if self.checks[fix.id].scope is Scope.HOST:
            names = [HOST] if seen.views else []
        else:
            names = [view.name for view in seen.views]
        found = [(name, seen.result(fix.id, name)) for name in names]
        return [(n, r) for n, r in found if r is not None and r.status is Status.FAIL]

    def plan(self, fix: type[Fix], seen: Observation | None = None) -> list[FixReport]:
        """One report per cluster where the check fails, with the planned steps."""
        seen = seen or self.observe(fix)
        reports = []
        for cluster, result in self._failing(fix, seen):
            report = FixReport(fix.id, self.checks[fix.id].name, cluster, fix.safety.value)
            context = self._context(seen, cluster, result, fix)
            try:
                steps = fix().plan(context)
            except PlanError as exc:
                report.outcome, report.detail = Outcome.NOT_PLANNED, str(exc)
                reports.append(report)
                continue
            report.steps = [StepReport(step) for step in steps]
            report.outcome = Outcome.PENDING if steps else Outcome.NOTHING_TO_DO
            reports.append(report)
        return reports

    # -- previewing and applying --------------------------------------------------------

    def dry_run(self, reports: Sequence[FixReport]) -> None:
        """Previews every planned change: objects with dryRun=All (admission judges them,
        nothing changes), the machine's by whether they could be made."""
        for report in reports:
            answers = self._executors.preview([step.change for step in report.steps])
            for step, answer in zip(report.steps, answers, strict=True):
                step.answer = answer

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
            if report.outcome != Outcome.PENDING:
                continue
            self._apply_one(fix, report, journal)
        if any(r.outcome == Outcome.PENDING for r in reports):
            self._verify(fix, [r for r in reports if r.outcome == Outcome.PENDING], wait)
        return reports

    def _apply_one(self, fix: type[Fix], report: FixReport, journal: Journal) -> None:
        applied: list[JournalEntry] = []
        settled = 0
        """How many applied steps a passed admission gate made final: they are right on their
        own (the later steps waited for them to take effect), so a later failure keeps them."""
        replanned = False
        index = 0
        while index < len(report.steps):
            step = report.steps[index]
            step.change = change = self._executors.prepare(
                step.change, journal.folder / "backups", index
            )
            if change.once_admitted is not None:
                refused = self._await_admission(change.cluster, change.once_admitted)
                if refused is not None:
                    # What was applied is right and stays; the rest waits for a later run.
                    for later in report.steps[index:]:
                        later.answer = "not sent: admission does not allow it yet"
                    report.outcome = Outcome.AWAITING
                    report.detail = refused
                    return
                settled = len(applied)
            entry = journal.record(fix.id, change)
            result = self._executors.apply(change)
            step.answer = result.answer
            if result.ok:
                entry.state, entry.stored = EntryState.APPLIED, result.stored
                journal.save()
                applied.append(entry)
                index += 1
                continue
            entry.state = EntryState.FAILED
            journal.save()
            if result.conflict and not replanned and not applied:
                # Someone edited the object since the plan: plan again from what is there now.
                replanned = True
                fresh = [r for r in self.plan(fix) if r.cluster == report.cluster]
                report.steps = fresh[0].steps if fresh else []
                report.detail = "an object changed after planning; planned again"
                if not report.steps:
                    report.outcome = Outcome.NOTHING_TO_DO
                    return
                index = 0
                continue
            undone = applied[settled:]
            self._roll_back(undone, journal)
            # Nothing to roll back when every applied step was made final by a gate.
            report.outcome = Outcome.ROLLED_BACK if undone or not settled else Outcome.STILL_FAILING
            report.detail = f"{step.change.describe()} failed: {step.answer}"
            if undone:
                report.detail += f"; rolled back {len(undone)} applied step(s)"
            if settled:
                report.detail += (
                    f"; the {settled} step(s) before the wait for admission stay applied"
                )
            return

    def _await_admission(self, cluster: str, gate: AdmissionGate) -> str | None:
        """Polls until admission allows the gate's change (None) or the rollout timeout passes
        (why not)."""
        if (cluster, gate) in self._admitted:
            return None
        timeout = self.options.rollout_timeout
        deadline = time.monotonic() + timeout
        who = gate.probe.impersonate_user or "gdoctor"
        with self._clusters.writer(cluster) as writer:
            while True:
                rolling = _rollout_pending(writer, gate.deployment)
                answer = writer.probe(gate.probe)
                admitted = 200 <= answer.status < 300
                if admitted and rolling is None:
                    self._admitted.add((cluster, gate))
                    return None
                if time.monotonic() >= deadline:
                    if not admitted:
                        why = (
                            f"admission in {cluster} still refuses a dry run as {who} after "
                            f"{timeout:.0f} s ({answer.message})"
                        )
                    else:
                        why = f"{rolling} after {timeout:.0f} s"
                    return (
                        f"{why}: the steps waiting for it were not sent; each one's why says "
                        "how to make it by hand once admission allows it"
                    )
                if self.progress is not None:
                    self.progress(rolling or f"waiting until admission in {cluster} allows it")
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _roll_back(self, applied: list[JournalEntry], journal: Journal) -> None:
        for entry in reversed(applied):
            if entry.change.irreversible:
                continue
            if self._executors.restore(entry.change, entry.stored).ok:
                entry.state = EntryState.ROLLED_BACK
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
            undecided = [r for r in reports if r.outcome == Outcome.AWAITING]
            if not undecided or time.monotonic() >= deadline:
                return
            if self.progress is not None:
                self.progress(f"waiting for {', '.join(r.cluster for r in undecided)}")
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))

    def _judge(
        self, fix: type[Fix], seen: Observation, report: FixReport, result: CheckResult | None
    ) -> tuple[Outcome, str]:
        if result is None:
            return Outcome.FIXED, ""
        context = self._context(seen, report.cluster, result, fix)
        if result.status is Status.PASS:
            pending = fix().reconciling(context)
            return (Outcome.AWAITING, pending) if pending is not None else (Outcome.FIXED, "")
        if result.status is not Status.FAIL:
            return Outcome.STILL_FAILING, f"the check now reports {result.status.value}"
        waiting_for = fix().awaiting(context)
        if waiting_for is not None:
            return Outcome.AWAITING, waiting_for
        return Outcome.STILL_FAILING, result.findings[0].message if result.findings else ""


def _rollout_pending(writer: ClusterWriter, deployment: tuple[str, str] | None) -> str | None:
    """What the Deployment's rollout still waits for, judged as `kubectl rollout status`
    does; None once it is complete (or when there is no Deployment to wait for)."""
    if deployment is None:
        return None
    namespace, name = deployment
    like = {"apiVersion": "apps/v1", "metadata": {"namespace": namespace, "name": name}}
    try:
        obj = writer.get(kinds.DEPLOYMENTS, like)
    except Exception as exc:  # the adapter's own error types: say why, keep waiting
        return f"cannot read the Deployment {namespace}/{name} ({exc})"
    if obj is None:
        return None  # gone: nothing of it left to answer
    what = f"the Deployment {namespace}/{name}"
    status = objects.status(obj)
    wanted = objects.spec(obj).get("replicas", 1)
    if status.get("observedGeneration", 0) < objects.metadata(obj).get("generation", 0):
        return f"{what} has not started rolling out its change"
    updated_count = status.get("updatedReplicas", 0)
    if updated_count < wanted:
        return f"{what} has {updated_count} of {wanted} pods updated"
    if status.get("replicas", 0) > updated_count:
        return f"{what} still runs {status['replicas'] - updated_count} old pod(s)"
    if status.get("availableReplicas", 0) < updated_count:
        return (
            f"{what} has {status.get('availableReplicas', 0)} of {updated_count} new pods available"
        )
    return None


# -- undo ---------------------------------------------------------------------------------------


class UndoState(enum.Enum):
    UNDONE = "undone"
    IRREVERSIBLE = "irreversible"
    """Applied, and cannot be undone (deleted pods, a recreated export)."""
    FAILED = "failed"
    NOT_REACHED = "not reached"
    """Its cluster is not in the kubeconfig: nothing was tried."""


@dataclass(frozen=True, slots=True)
class UndoResult:
    change: Step
    state: UndoState
    detail: str = ""
    """Why not, for a change that failed or was not reached."""


def undo(journal: Journal, targets: Sequence[Target], settings: Settings) -> list[UndoResult]:
    """Restores every applied, reversible change of the run, newest first; one result per
    applied change (irreversible ones named as such)."""
    executors = Executors(Clusters(targets, settings.request_timeout))
    results = []
    for entry in reversed(journal.entries):
        change = entry.change
        if entry.state != EntryState.APPLIED:
            continue
        if change.irreversible:
            results.append(UndoResult(change, UndoState.IRREVERSIBLE))
            continue
        restored = executors.restore(change, entry.stored)
        if not restored.reached:
            results.append(UndoResult(change, UndoState.NOT_REACHED, restored.problem))
            continue
        if restored.ok:
            entry.state = EntryState.UNDONE
            results.append(UndoResult(change, UndoState.UNDONE))
        else:
            results.append(UndoResult(change, UndoState.FAILED, restored.problem))
        journal.save()
    return results
