"""Every scenario folder, loaded into the real lab, gives exactly the statuses it expects."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor, statuses
from lab_fixtures import load
from scenario import load_scenario, scenario_paths

pytestmark = pytest.mark.lab

SCENARIOS = list(scenario_paths())


@pytest.mark.parametrize("path", SCENARIOS, ids=[f"{p.parent.name}/{p.name}" for p in SCENARIOS])
def test_scenario_gives_the_expected_statuses(lab, path):
    scenario = load_scenario(path)
    load(lab, scenario)
    run = gdoctor(
        "check", *scenario.expect, *scenario.args, "-o", "json", "--kubeconfig", str(lab.kubeconfig)
    )
    assert run.code in (0, 1), run.stderr
    actual = statuses(run.json())
    assert actual == scenario.expect
    failing = any(s == "fail" for per in scenario.expect.values() for s in per.values())
    assert run.code == (1 if failing else 0)
