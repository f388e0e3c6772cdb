"""The policy of a `gdoctor fix` run: selection, the --unsafe gate, the preview's verdicts and
the exit code of an applied run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from globalnet_doctor.errors import UsageError
from globalnet_doctor.exitcodes import FixExitCode
from globalnet_doctor.fix_session import (
    FixRequest,
    FixResult,
    FixSession,
    PlanMode,
    ReadyToApply,
    exit_code_for,
    fix_pack,
    select_fixes,
)
from globalnet_doctor.fixer import FixReport, Outcome
from globalnet_doctor.fixspec import Safety
from globalnet_doctor.model import HOST
from globalnet_doctor.registry import load_registry


@pytest.fixture(scope="module")
def installed() -> Any:
    registry = load_registry()
    return registry, fix_pack(registry)


def test_a_run_names_its_fixes_or_passes_all_never_both_or_neither() -> None:
    for names, fix_all in (((), False), (("GD101",), True)):
        with pytest.raises(UsageError, match="name the fixes to apply"):
            FixRequest(names, fix_all)


def test_named_fixes_come_in_the_order_named(installed: Any) -> None:
    registry, fixes = installed
    selected = select_fixes(FixRequest(("GD401", "GD101")), registry, fixes)
    assert [f.id for f in selected] == ["GD401", "GD101"]


def test_all_leaves_out_last_resorts_and_puts_root_causes_first(installed: Any) -> None:
    registry, fixes = installed
    selected = select_fixes(FixRequest(fix_all=True, unsafe=True), registry, fixes)
    assert selected
    assert not any(f.last_resort for f in selected)
    assert [(f.order, f.id) for f in selected] == sorted((f.order, f.id) for f in selected)
    assert {f.id for f in fixes.values() if f.last_resort}.isdisjoint(f.id for f in selected)


def test_an_unknown_check_or_a_check_without_fix_is_a_usage_error(installed: Any) -> None:
    registry, fixes = installed
    with pytest.raises(UsageError, match=r"no check 'GD999' \(see `gdoctor list`\)"):
        select_fixes(FixRequest(("GD999",)), registry, fixes)
    with pytest.raises(UsageError, match="GD001 submariner-not-ready has no fix"):
        select_fixes(FixRequest(("GD001",)), registry, fixes)


def test_an_unsafe_fix_needs_unsafe_unless_only_previewed(installed: Any) -> None:
    registry, fixes = installed
    unsafe = next(f.id for f in fixes.values() if f.safety is Safety.UNSAFE)
    with pytest.raises(UsageError, match=f"{unsafe} is unsafe .* pass --unsafe"):
        select_fixes(FixRequest((unsafe,)), registry, fixes)
    for request in (FixRequest((unsafe,), unsafe=True), FixRequest((unsafe,), dry_run=True)):
        assert [f.id for f in select_fixes(request, registry, fixes)] == [unsafe]


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([], FixExitCode.OK),
        ([Outcome.FIXED, Outcome.NOTHING_TO_DO], FixExitCode.OK),
        ([Outcome.FIXED, Outcome.AWAITING], FixExitCode.AWAITING),
        ([Outcome.AWAITING, Outcome.STILL_FAILING], FixExitCode.NOT_FIXED),
        ([Outcome.STILL_FAILING, Outcome.ROLLED_BACK, Outcome.AWAITING], FixExitCode.ROLLED_BACK),
    ],
)
def test_the_worst_outcome_decides_the_exit_code(outcomes: list[Outcome], code: int) -> None:
    assert exit_code_for(outcomes) == code


def test_outcomes_are_the_strings_the_json_plan_carries() -> None:
    assert Outcome.ROLLED_BACK == "failed, rolled back"
    assert f"{Outcome.AWAITING}" == "awaiting reconciliation"


class _Fix:
    def __init__(self, fix_id: str) -> None:
        self.id = fix_id


class _Fixer:
    """Plans what it is told; records what is previewed and applied."""

    def __init__(self, plans: dict[str, list[tuple[str, Outcome]]]) -> None:
        self.plans = plans
        self.dry_runs: list[list[FixReport]] = []
        self.applied: list[tuple[str, set[str] | None]] = []

    def plan(self, fix: _Fix) -> list[FixReport]:
        return [
            FixReport(fix.id, "name", cluster, "safe", outcome=outcome)
            for cluster, outcome in self.plans.get(fix.id, [])
        ]

    def dry_run(self, reports: list[FixReport]) -> None:
        self.dry_runs.append(list(reports))

    def apply(
        self, fix: _Fix, journal: Any, wait: float, clusters: set[str] | None
    ) -> list[FixReport]:
        self.applied.append((fix.id, clusters))
        return [FixReport(fix.id, "name", c, "safe", outcome=Outcome.FIXED) for c in clusters or ()]


def _session(plans: dict[str, list[tuple[str, Outcome]]], **asked: Any) -> FixSession:
    request = FixRequest(tuple(plans), **asked)
    return FixSession(request, [_Fix(i) for i in plans], _Fixer(plans))  # type: ignore[list-item, arg-type]


def test_a_plan_that_cannot_be_made_applies_nothing_and_names_the_other_clusters() -> None:
    session = _session({"GD401": [("member1", Outcome.NOT_PLANNED), ("member2", Outcome.PENDING)]})
    result = session.preview()
    assert isinstance(result, FixResult)
    assert (result.mode, result.exit_code) == (PlanMode.PLAN, FixExitCode.REFUSED)
    assert result.complaint == (
        "nothing applied: no plan could be made for GD401 in member1 (reason above); to fix "
        "member2 now, name it with --context"
    )


def test_no_context_hint_when_the_machine_has_no_plan() -> None:
    session = _session({"GD601": [(HOST, Outcome.NOT_PLANNED)], "GD101": [("m1", Outcome.PENDING)]})
    result = session.preview()
    assert isinstance(result, FixResult)
    assert result.complaint is not None
    assert "--context" not in result.complaint


def test_a_dry_run_previews_the_pending_changes_and_exits_1_when_there_are_some() -> None:
    session = _session(
        {"GD101": [("m1", Outcome.PENDING), ("m2", Outcome.NOTHING_TO_DO)]}, dry_run=True
    )
    result = session.preview()
    assert isinstance(result, FixResult)
    assert (result.mode, result.exit_code) == (PlanMode.DRY_RUN, FixExitCode.NOT_FIXED)
    assert [[r.cluster for r in run] for run in session.fixer.dry_runs] == [["m1"]]  # type: ignore[attr-defined]
    quiet = _session({"GD101": [("m1", Outcome.NOTHING_TO_DO)]}, dry_run=True).preview()
    assert isinstance(quiet, FixResult)
    assert quiet.exit_code == FixExitCode.OK


def test_nothing_to_do_is_the_plan_and_exit_0() -> None:
    result = _session({"GD101": []}).preview()
    assert isinstance(result, FixResult)
    assert (result.mode, result.exit_code, result.reports) == (PlanMode.PLAN, FixExitCode.OK, [])


def test_only_the_previewed_clusters_are_applied(tmp_path: Path) -> None:
    session = _session(
        {
            "GD101": [("m1", Outcome.PENDING), ("m2", Outcome.NOTHING_TO_DO)],
            "GD401": [("m2", Outcome.NOTHING_TO_DO)],
        }
    )
    assert isinstance(session.preview(), ReadyToApply)

    class _Journal:
        run_id = "run"

    result = session.apply(_Journal())  # type: ignore[arg-type]
    assert session.fixer.applied == [("GD101", {"m1"})]  # type: ignore[attr-defined]
    assert (result.mode, result.exit_code, result.run_id) == (PlanMode.APPLY, FixExitCode.OK, "run")


def _all_session(plans: dict[str, list[tuple[str, Outcome]]], **asked: Any) -> FixSession:
    request = FixRequest((), fix_all=True, **asked)
    return FixSession(request, [_Fix(i) for i in plans], _Fixer(plans))  # type: ignore[list-item, arg-type]


def test_fix_all_applies_what_it_can_plan_and_exits_1_for_what_it_cannot(tmp_path: Path) -> None:
    session = _all_session(
        {"GD301": [("member1", Outcome.NOT_PLANNED)], "GD101": [("member2", Outcome.PENDING)]}
    )
    assert isinstance(session.preview(), ReadyToApply)

    class _Journal:
        run_id = "run"

    result = session.apply(_Journal())  # type: ignore[arg-type]
    assert session.fixer.applied == [("GD101", {"member2"})]  # type: ignore[attr-defined]
    assert [(r.fix, r.outcome) for r in result.reports] == [
        ("GD101", Outcome.FIXED),
        ("GD301", Outcome.NOT_PLANNED),
    ]
    assert result.exit_code == FixExitCode.NOT_FIXED
    assert result.complaint == (
        "not applied: no plan could be made for GD301 in member1 (reason above); the rest went on"
    )


def test_fix_all_with_only_unplannable_fixes_exits_1() -> None:
    result = _all_session({"GD301": [("member1", Outcome.NOT_PLANNED)]}).preview()
    assert isinstance(result, FixResult)
    assert (result.mode, result.exit_code) == (PlanMode.PLAN, FixExitCode.NOT_FIXED)


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([Outcome.NOT_PLANNED, Outcome.AWAITING], FixExitCode.NOT_FIXED),
        ([Outcome.NOT_PLANNED, Outcome.ROLLED_BACK], FixExitCode.ROLLED_BACK),
    ],
)
def test_not_planned_ranks_with_still_failing(outcomes: list[Outcome], code: int) -> None:
    assert exit_code_for(outcomes) == code
