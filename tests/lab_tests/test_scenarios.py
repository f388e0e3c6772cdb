"""Every scenario folder, loaded into the real lab, gives exactly the statuses it expects, and
the offline run of the same scenario (tests/offline: views built from its objects) gives the
same results and findings, so the seconds-long offline loop cannot drift from the lab."""

from __future__ import annotations

import json

import pytest
from gdoctor_run import gdoctor, statuses
from lab_fixtures import load
from netns import is_host_scenario
from offline import comparable, observed_moments, run_offline
from scenario import load_scenario, message_misses, scenario_paths

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
    assert not message_misses(scenario, report)
    # --fail-on error: only error-severity findings make the exit code 1 (warnings do not).
    errors = [f for r in report["results"] for f in r["findings"] if f["severity"] == "error"]
    assert run.code == (1 if errors else 0)
    # Observed at the lab run's moments: ages (a Gateway's last report) read the same.
    offline = comparable(run_offline(scenario, observed_moments(report)))
    if scenario.lab_only is None:
        assert offline == comparable(report), (
            f"{scenario.name}: the offline run differs from the lab's; make the offline views "
            "answer like the apiserver (tests/offline), or mark the scenario labOnly with the "
            "server behaviour it needs"
        )
    else:
        # A lab-only scenario whose offline run agrees no longer needs the lab.
        assert offline != comparable(report), (
            f"{scenario.name} is labOnly ({scenario.lab_only}) but runs the same offline: "
            f"drop labOnly. Offline: {json.dumps(offline)[:400]}"
        )
