"""Plan, preview, apply, verify and undo fixes: the careful operator's workflow, automated.

Every change is planned from a fresh read, shown, journaled with its prior state, applied with
the read resourceVersion as precondition (a concurrent edit makes it re-plan, never clobber),
rolled back if a later step of the same fix fails, and verified by re-running the check.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.diagnose import read_everything
from globalnet_doctor.fixspec import (
    AdmissionGate,
    FileChange,
    FileWrite,
    Fix,
    FixContext,
    FixOptions,
    HostChange,
    KubeChange,
    PlanError,
    Step,
    SysctlChange,
)
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostFile
from globalnet_doctor.journal import Journal, JournalEntry
from globalnet_doctor.kubeconfig import Target
from globalnet_doctor.model import HOST, CheckResult, Status
from globalnet_doctor.runner import HostOptions, RunOptions, run_checks
from globalnet_doctor.spec import Check, Scope
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
    outcome: str = NOTHING_TO_DO
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
            from globalnet_doctor.adapters.host import read_host_file

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
            deleted: set[tuple[str, str, str | None, str]] = set()
            for step in report.steps:
                change = step.change
                if not isinstance(change, KubeChange):
                    # Nothing on the machine can judge a change without making it: gdoctor
                    # checks it could be made (the file or directory is writable, ...).
                    step.answer = _preview_host(change)
                    continue
                key = (change.cluster, change.kind.resource, change.namespace, change.name)
                if change.action == "create" and key in deleted:
                    # A dry-run delete removed nothing: the server would only say it exists.
                    step.answer = "not sent: it exists until the delete above is applied"
                    continue
                if change.action == "delete":
                    deleted.add(key)
                with self._writer(change.cluster) as writer:
                    step.answer = _answer(_send(writer, change, dry_run=True))

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
        settled = 0
        """How many applied steps a passed admission gate made final: they are right on their
        own (the later steps waited for them to take effect), so a later failure keeps them."""
        replanned = False
        index = 0
        while index < len(report.steps):
            step = report.steps[index]
            change = step.change
            if isinstance(change, FileChange) and change.backup is None:
                # The prior bytes are copied into the run's journal folder: gdoctor never
                # litters the directory of a bind mount (the machine's own /etc).
                change = dataclasses.replace(
                    change, backup=str(journal.folder / "backups" / f"{index}-{_base(change)}")
                )
                step.change = change
            if isinstance(change, KubeChange) and change.once_admitted is not None:
                refused = self._await_admission(change.cluster, change.once_admitted)
                if refused is not None:
                    # What was applied is right and stays; the rest waits for a later run.
                    for later in report.steps[index:]:
                        later.answer = "not sent: admission does not allow it yet"
                    report.outcome = AWAITING
                    report.detail = refused
                    return
                settled = len(applied)
            entry = journal.record(fix.id, change)
            if isinstance(change, KubeChange):
                with self._writer(change.cluster) as writer:
                    result = _send(writer, change, dry_run=False)
                step.answer = _answer(result)
            else:
                result = apply_host(change)
                step.answer = result.message
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
            undone = applied[settled:]
            self._roll_back(undone, journal)
            # Nothing to roll back when every applied step was made final by a gate.
            report.outcome = ROLLED_BACK if undone or not settled else STILL_FAILING
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
        with self._writer(cluster) as writer:
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
            change = entry.change
            if change.irreversible:
                continue
            if isinstance(change, KubeChange):
                with self._writer(change.cluster) as writer:
                    restored = restore(writer, change).ok
            else:
                restored = restore_host(change, entry.stored).ok
            if restored:
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
        if result is None:
            return FIXED, ""
        context = self._context(seen, report.cluster, result, fix)
        if result.status is Status.PASS:
            pending = fix().reconciling(context)
            return (AWAITING, pending) if pending is not None else (FIXED, "")
        if result.status is not Status.FAIL:
            return STILL_FAILING, f"the check now reports {result.status.value}"
        waiting_for = fix().awaiting(context)
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


def _rollout_pending(writer: Any, deployment: tuple[str, str] | None) -> str | None:
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
    status = obj.get("status") or {}
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
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


# -- host changes -------------------------------------------------------------------------------


def _base(change: FileChange) -> str:
    return change.real_path.rstrip("/").rsplit("/", 1)[-1] or "file"


def _preview_host(change: HostChange) -> str:
    from globalnet_doctor.adapters import host

    if isinstance(change, FileChange):
        problem = host.writable(change.real_path)
    elif isinstance(change, SysctlChange):
        problem = host.writable(change.proc_path)
    else:
        exists = change.before is None and host.route_exists(change.destination, change.table)
        problem = f"a route for {change.destination} exists already" if exists else None
    return "ok" if problem is None else problem


def apply_host(change: HostChange) -> Any:
    """Applies one host change through the adapter; its result says ok, conflict or why not."""
    from globalnet_doctor.adapters import host

    if isinstance(change, FileChange):
        return host.write_file(
            change.real_path,
            change.before,
            change.after,
            change.how is FileWrite.IN_PLACE,
            change.backup,
        )
    if isinstance(change, SysctlChange):
        return host.write_sysctl(change.proc_path, change.before, change.after)
    return host.change_route(
        "add" if change.before is None else "replace",
        change.destination,
        change.gateway,
        change.device,
        change.table,
    )


def restore_host(change: HostChange, stored: Any) -> Any:
    """Puts the machine back as it was before ``change``: the file's bytes, the sysctl's value,
    the route removed (or the replaced one back). Sysctls and routes only from the network
    namespace the fix ran in, files only when the file is still the one the fix wrote."""
    from globalnet_doctor.adapters import host

    recorded = stored or {}
    if isinstance(change, FileChange):
        return host.restore_file(
            change.real_path,
            change.before,
            change.how is FileWrite.IN_PLACE,
            recorded.get("identity"),
        )
    here = host.network_namespace()
    if recorded.get("netns") not in (None, here):
        return host.HostWrite(
            False,
            "not in the network namespace the fix ran in (run gdoctor undo where gdoctor fix "
            "ran, e.g. under the same `ip netns exec`)",
        )
    if isinstance(change, SysctlChange):
        if change.before is None:
            return host.HostWrite(False, "its prior value was not readable")
        return host.write_sysctl(change.proc_path, change.after, change.before)
    if change.before is None:
        return host.change_route(
            "del", change.destination, change.gateway, change.device, change.table
        )
    prior = change.before
    return host.change_route(
        "replace", prior.destination, prior.gateway, prior.interface, prior.table, prior.protocol
    )


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
        if not isinstance(change, KubeChange):
            restored = restore_host(change, entry.stored)
            if restored.ok:
                entry.state = "undone"
                lines.append(f"undone: {change.describe()}")
            else:
                lines.append(f"failed to undo {change.describe()}: {restored.message}")
            journal.save()
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
