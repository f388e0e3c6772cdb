"""Every scenario folder, loaded into the real lab, gives exactly the statuses it expects."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor, statuses
from lab_fixtures import load
from netns import is_host_scenario
from scenario import load_scenario, scenario_paths

pytestmark = pytest.mark.lab

# Host scenarios (a `host:` topology in scenario.yaml) run in network namespaces, in
# tests/host_tests: here gdoctor would judge the machine's own network instead.
SCENARIOS = [p for p in scenario_paths() if not is_host_scenario(p)]


@pytest.mark.parametrize("path", SCENARIOS, ids=[f"{p.parent.name}/{p.name}" for p in SCENARIOS])
def test_scenario_gives_the_expected_statuses(lab, path):
    scenario = load_scenario(path)
    load(lab, scenario)
    run = gdoctor(
        "check", *scenario.expect, *scenario.args, "-o", "json", "--kubeconfig", str(lab.kubeconfig)
    )
    assert run.code in (0, 1), run.stderr
    report = run.json()
    assert statuses(report) == scenario.expect
    # --fail-on error: only error-severity findings make the exit code 1 (warnings do not).
    errors = [f for r in report["results"] for f in r["findings"] if f["severity"] == "error"]
    assert run.code == (1 if errors else 0)
