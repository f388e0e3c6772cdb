"""Every scenario folder, offline: its objects built into cluster views, the engine's real run
path over them, in-process, and the statuses (and ``messages``) it expects; no lab, no root,
the whole set in about a second.

A scenario marked ``labOnly: <reason>`` needs something only the real apiserver does (a dry
run's admission answer, RBAC, defaulting, server-filled fields) and runs only in the lab, where
tests/lab_tests/test_scenarios.py also fails on any difference between the offline and the lab
results of every other scenario.

Golden fix plans: a scenario folder may hold ``fix-plan-GDnnn.json``, the plan of fix GDnnn
over the scenario (as ``gdoctor fix GDnnn --dry-run -o json`` renders it, without the
server's answers; the re-trigger moment as ``<observedAt>``), checked here.
``GDOCTOR_UPDATE_GOLDENS=1 .venv/bin/pytest tests/offline`` rewrites them (review the diff); to
add one, create the file empty and run that.
"""

from __future__ import annotations

import os

import pytest
from netns import is_host_scenario
from scenario import (
    Scenario,
    all_scenarios,
    fix_plan_goldens,
    load_scenario,
    message_misses,
)

from globalnet_doctor.registry import load_fixes
from globalnet_doctor.spec import Scope
from offline import fix_plan, registry, render_plan, run_offline, statuses

# Host scenarios run in network namespaces (tests/host_tests): their point is the machine.
# Collected from the session's scenarios; each test loads its own again, so ``${NOW}`` is fresh
# when the views are judged.
LOADED = [s for s in all_scenarios() if not is_host_scenario(s.path)]
OFFLINE = [s for s in LOADED if s.lab_only is None]
# Plans are of the offline views (no probe answers), so lab-only scenarios may hold them too.
WITH_PLANS = [s for s in LOADED if fix_plan_goldens(s.path)]


def _id(scenario: Scenario) -> str:
    return scenario.name


@pytest.mark.parametrize("scenario", OFFLINE, ids=_id)
def test_scenario_gives_the_expected_statuses_offline(scenario: Scenario) -> None:
    scenario = load_scenario(scenario.path)
    report = run_offline(scenario)
    assert statuses(report) == scenario.expect
    assert not message_misses(scenario, report)


@pytest.mark.parametrize("scenario", WITH_PLANS, ids=_id)
def test_golden_fix_plans(scenario: Scenario) -> None:
    scenario = load_scenario(scenario.path)
    for fix_id, golden in fix_plan_goldens(scenario.path).items():
        actual = render_plan(fix_plan(scenario, fix_id))
        if os.environ.get("GDOCTOR_UPDATE_GOLDENS"):
            golden.write_text(actual)
        assert actual == golden.read_text(), (
            f"{golden} differs (GDOCTOR_UPDATE_GOLDENS=1 to rewrite, then review the diff)"
        )


def test_every_fix_has_a_golden_plan_and_message_assertions() -> None:
    """At least one FAIL scenario of each fixable cluster check carries its fix's golden plan
    and asserts that check's finding messages. (Host fixes plan from the machine's files and
    routes: their scenarios are host scenarios, planned in network namespaces by
    tests/host_tests.)"""
    for fix_id in load_fixes(registry()):
        if registry().find(fix_id).scope is Scope.HOST:
            continue
        planned = [s for s in LOADED if fix_id in fix_plan_goldens(s.path)]
        assert any(s.path.name.endswith("-FAIL") for s in planned), (
            f"no FAIL scenario has fix-plan-{fix_id}.json"
        )
        assert any(fix_id in s.messages for s in planned), (
            f"no scenario with fix-plan-{fix_id}.json asserts {fix_id}'s messages"
        )


def test_lab_only_scenarios_say_why() -> None:
    for scenario in LOADED:
        if scenario.lab_only is not None:
            assert len(scenario.lab_only.split()) >= 3, f"{scenario.name}: labOnly needs a reason"
