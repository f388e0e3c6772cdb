"""The policy of one `gdoctor fix` run: which fixes, whether they may run, what the run exits with.

The command line parses the request and renders what the session returns; the session selects
the fixes, refuses unsafe ones without ``--unsafe``, previews the plan, applies only what was
previewed and maps the outcomes to the exit code (docs/exit-codes.md).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import FixExitCode
from globalnet_doctor.fixer import Fixer, FixReport, Outcome
from globalnet_doctor.fixspec import Fix, FixOptions, Safety
from globalnet_doctor.journal import Journal
from globalnet_doctor.model import HOST
from globalnet_doctor.registry import Registry, RegistryError, load_fixes


class PlanMode(enum.StrEnum):
    """What the reports show (the JSON plan's ``mode``)."""

    PLAN = "plan"
    DRY_RUN = "dry-run"
    APPLY = "apply"


@dataclass(frozen=True, slots=True)
class FixRequest:
    """A `gdoctor fix` run as asked on the command line."""

    names: tuple[str, ...] = ()
    """Checks (ids or names) whose fixes to apply; empty with ``fix_all``."""
    fix_all: bool = False
    dry_run: bool = False
    unsafe: bool = False
    wait: float = 0.0
    """How long to poll after applying until the check's status changes."""
    options: FixOptions = field(default_factory=FixOptions)

    def __post_init__(self) -> None:
        if self.fix_all == bool(self.names):
            raise UsageError("name the fixes to apply (ids or names) or pass --all")


def fix_pack(registry: Registry) -> dict[str, type[Fix]]:
    """Every installed fix, by the id of the check it repairs."""
    try:
        return load_fixes(registry)
    except RegistryError as exc:
        raise UsageError(f"invalid fix plugin: {exc}") from None


def select_fixes(
    request: FixRequest, registry: Registry, fixes: Mapping[str, type[Fix]]
) -> list[type[Fix]]:
    """The fixes the request names (in its order), or with ``--all`` every fix that is no last
    resort, root causes first; unsafe ones only with ``--unsafe`` or ``--dry-run``."""
    if request.fix_all:
        selected = sorted(
            (f for f in fixes.values() if not f.last_resort), key=lambda f: (f.order, f.id)
        )
    else:
        selected = [_named_fix(name, registry, fixes) for name in request.names]
    risky = [f.id for f in selected if f.safety is Safety.UNSAFE]
    if risky and not request.unsafe and not request.dry_run:
        raise UsageError(
            f"{', '.join(risky)} is unsafe (changes encapsulation or hides a "
            "symptom); pass --unsafe to apply it, or --dry-run to see the plan"
        )
    return selected


def _named_fix(name: str, registry: Registry, fixes: Mapping[str, type[Fix]]) -> type[Fix]:
    check = registry.find(name)
    if check is None:
        raise UsageError(f"no check {name!r} (see `gdoctor list`)")
    if check.id not in fixes:
        raise UsageError(f"{check.id} {check.name} has no fix (see `gdoctor explain {check.id}`)")
    return fixes[check.id]


def exit_code_for(outcomes: Iterable[Outcome]) -> FixExitCode:
    """The worst outcome of an applied run: rolled back, then still failing or not planned
    (``fix --all`` goes on past a fix it cannot plan), then awaiting."""
    found = set(outcomes)
    if Outcome.ROLLED_BACK in found:
        return FixExitCode.ROLLED_BACK
    if found & {Outcome.STILL_FAILING, Outcome.NOT_PLANNED}:
        return FixExitCode.NOT_FIXED
    if Outcome.AWAITING in found:
        return FixExitCode.AWAITING
    return FixExitCode.OK


@dataclass(frozen=True, slots=True)
class FixResult:
    """The end of a run: the reports to render, and what the run exits with."""

    reports: Sequence[FixReport]
    mode: PlanMode
    exit_code: FixExitCode
    run_id: str | None = None
    complaint: str | None = None
    """Why nothing was applied, for stderr after the reports."""


@dataclass(frozen=True, slots=True)
class ReadyToApply:
    """A plan with changes to apply, once confirmed (``FixSession.apply``)."""

    reports: Sequence[FixReport]


class FixSession:
    """Previews the selected fixes, then applies what was previewed."""

    def __init__(self, request: FixRequest, fixes: Sequence[type[Fix]], fixer: Fixer) -> None:
        self.request = request
        self.fixes = list(fixes)
        self.fixer = fixer
        self._pending: list[FixReport] = []
        self._unplanned: list[FixReport] = []

    def preview(self) -> FixResult | ReadyToApply:
        """The plan of every selected fix where its check fails: the run's end (a plan that
        could not be made, a dry run, nothing to do), or changes ready to apply."""
        preview = [report for f in self.fixes for report in self.fixer.plan(f)]
        self._unplanned = [r for r in preview if r.outcome == Outcome.NOT_PLANNED]
        if self._unplanned and not self.request.fix_all:
            # A fix named on its own is all or nothing: no part of it is applied.
            return FixResult(
                preview, PlanMode.PLAN, FixExitCode.REFUSED, complaint=_unplanned(preview)
            )
        complaint = _left_out(self._unplanned) if self._unplanned else None
        self._pending = [r for r in preview if r.outcome == Outcome.PENDING]
        if self.request.dry_run:
            self.fixer.dry_run(self._pending)
            code = FixExitCode.NOT_FIXED if self._pending or self._unplanned else FixExitCode.OK
            return FixResult(preview, PlanMode.DRY_RUN, code, complaint=complaint)
        if not self._pending:
            code = FixExitCode.NOT_FIXED if self._unplanned else FixExitCode.OK
            return FixResult(preview, PlanMode.PLAN, code, complaint=complaint)
        return ReadyToApply(preview)

    def apply(self, journal: Journal) -> FixResult:
        """Applies what the preview showed, fix by fix, journaled in ``journal``."""
        # Only what was previewed (and confirmed) is applied: a check that starts failing
        # because of an earlier fix in this run waits for the next run, where it is shown first.
        previewed: dict[str, set[str]] = {}
        for report in self._pending:
            previewed.setdefault(report.fix, set()).add(report.cluster)
        done = [
            report
            for f in self.fixes
            if f.id in previewed
            for report in self.fixer.apply(f, journal, self.request.wait, previewed[f.id])
        ]
        reports = [*done, *self._unplanned]
        return FixResult(
            reports,
            PlanMode.APPLY,
            exit_code_for(r.outcome for r in reports),
            journal.run_id,
            complaint=_left_out(self._unplanned) if self._unplanned else None,
        )


def _left_out(unplanned: Sequence[FixReport]) -> str:
    """What ``fix --all`` could not plan, and went on without."""
    where = ", ".join(sorted({f"{r.fix} in {r.cluster}" for r in unplanned}))
    return f"not applied: no plan could be made for {where} (reason above); the rest went on"


def _unplanned(preview: Sequence[FixReport]) -> str:
    """Why nothing is applied when a plan could not be made, with a hint to fix the other
    clusters alone. --context leaves clusters out, never the machine: no hint where the
    machine's plan is the one missing."""
    unplanned = [r for r in preview if r.outcome == Outcome.NOT_PLANNED]
    refused = {r.cluster for r in unplanned}
    others = sorted({r.cluster for r in preview if r.outcome == Outcome.PENDING} - refused - {HOST})
    where = ", ".join(sorted({f"{r.fix} in {r.cluster}" for r in unplanned}))
    hint = ""
    if others and HOST not in refused:
        hint = f"; to fix {', '.join(others)} now, name it with --context"
    return f"nothing applied: no plan could be made for {where} (reason above){hint}"
