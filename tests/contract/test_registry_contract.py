"""Contract over the whole registry: every check is documented and has its scenarios."""

from __future__ import annotations

import pytest
from scenario import SCENARIOS, all_scenarios

from globalnet_doctor.registry import load_registry

REGISTRY = load_registry()
CHECKS = REGISTRY.checks


def scenarios_for(check_id: str) -> dict[str, list[str]]:
    """outcome suffix -> scenario names whose expectations include this check."""
    found: dict[str, list[str]] = {}
    for scenario in all_scenarios():
        path = scenario.path
        if check_id in scenario.expect:
            outcome = path.name.rsplit("-", 1)[-1]
            found.setdefault(outcome, []).append(scenario.name)
    return found


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_every_check_has_a_docs_page_with_the_required_sections(check):
    page = REGISTRY.doc_page(check)
    assert page is not None, f"docs/checks/{check.id}.md is missing"
    assert page.startswith(f"# {check.id} {check.name}\n")
    for section in ("## What it detects", "## Why it breaks traffic", "## Evidence", "## The fix"):
        assert section in page, f"{check.id}.md lacks {section!r}"


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_every_check_has_a_failing_and_a_passing_scenario(check):
    found = scenarios_for(check.id)
    assert found.get("FAIL"), f"{check.id} has no ...-FAIL scenario under {SCENARIOS}"
    assert found.get("PASS"), f"{check.id} has no ...-PASS scenario under {SCENARIOS}"


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_every_failing_scenario_of_a_check_fails_somewhere(check):
    for scenario in all_scenarios():
        path = scenario.path
        if path.parent != SCENARIOS / check.id:
            continue
        outcome = path.name.rsplit("-", 1)[-1].lower()
        assert outcome in set(scenario.expect[check.id].values()), (
            f"{scenario.name} is named {outcome} but expects {scenario.expect[check.id]}"
        )


def test_the_installed_entry_point_is_the_built_in_pack():
    import globalnet_doctor_checks

    assert set(CHECKS) >= set(globalnet_doctor_checks.CHECK_PACK.checks)


def test_every_fix_id_named_by_a_check_is_its_own_id():
    for check in CHECKS:
        assert check.fix in (None, check.id)


def test_every_declared_explanation_names_a_check_of_the_registry():
    ids = {c.id for c in CHECKS}
    for check in CHECKS:
        unknown = set(check.explains) - ids
        assert not unknown, f"{check.id} explains unknown checks {sorted(unknown)}"
        assert check.id not in check.explains, f"{check.id} explains itself"


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_every_docs_page_speaks_to_a_user(check):
    """`gdoctor explain` shows the page to someone who has only the installed package: no path
    outside it, and upstream references as links."""
    page = REGISTRY.doc_page(check) or ""
    assert "../" not in page, f"{check.id}.md names a file outside the package"
    assert "shared/" not in page, f"{check.id}.md names gdoctor's research files"
