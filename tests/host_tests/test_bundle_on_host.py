"""Bundles recorded on the external host (network namespaces + the real lab), and the demo
bundle shipped with gdoctor."""

from __future__ import annotations

import json
import tarfile
from importlib.resources import files

import pytest
from gdoctor_run import gdoctor, statuses, without_timings
from make_demo_bundle import DEMO_SCENARIO, record
from netns.hostlab import HostLab
from scenario import load_scenario

pytestmark = pytest.mark.lab

DEMO = files("globalnet_doctor") / "demo" / "field-report.tar.gz"


def test_a_host_bundle_replays_to_the_live_results_host_facts_included(host_lab: HostLab, tmp_path):
    output = tmp_path / "field-report.tar.gz"
    (tmp_path / "host").mkdir()
    record(host_lab.lab, tmp_path / "host", output)
    with tarfile.open(output) as archive:
        names = set(archive.getnames())
        live = json.loads(archive.extractfile("report.json").read())
    assert {"manifest.json", "report.json", "host/host.json", "logs/gdoctor.log"} <= names
    replay = gdoctor("check", "--all", "--bundle", str(output), "-o", "json")
    assert without_timings(replay.json()) == without_timings(live)
    assert statuses(live)["GD601"] == {"host": "fail"}


def test_the_shipped_demo_replays_to_the_field_report_expectations():
    expected = load_scenario(DEMO_SCENARIO).expect
    run = gdoctor("demo", "-o", "json")
    assert run.code == 1, run.stderr
    assert statuses(run.json()) == expected
    table = gdoctor("demo")
    assert "  GD501  host: /etc/resolv.conf names" in table.stdout
    assert DEMO.is_file()
