"""`gdoctor check` against the real lab: the acceptance run, its report, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from gdoctor_run import assert_golden, gdoctor, gdoctor_process, normalised, statuses
from lab_fixtures import load
from scenario import SCENARIOS, load_scenario

pytestmark = pytest.mark.lab

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schemas" / "report.schema.json").read_text()
)
FAILING = ("GD101", "GD401")
ACCEPTANCE = SCENARIOS / "combined" / "ipvs-on-member1-no-gateway-on-member2-FAIL"


def test_ipvs_on_member1_and_no_gateway_on_member2_exit_1_with_those_two_failures(lab):
    load(lab, load_scenario(ACCEPTANCE))
    run = gdoctor_process("check", "--all", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)  # stdout is the JSON document and nothing else
    jsonschema.validate(report, SCHEMA)
    table = statuses(report)
    assert table["GD101"] == {"member1": "fail", "member2": "pass", "member3": "pass"}
    assert table["GD401"] == {"member1": "pass", "member2": "fail", "member3": "pass"}
    others = {(c, k): s for c, per in table.items() for k, s in per.items() if c not in FAILING}
    assert "fail" not in others.values(), [k for k, v in others.items() if v == "fail"]
    assert [c["clusterID"] for c in report["clusters"]] == ["cluster-a", "cluster-b", "cluster-c"]
    assert all(c["kubernetesVersion"].startswith("v1.20") for c in report["clusters"])
    assert report["summary"]["fail"] == 2
    assert report["summary"]["error"] == 0
    assert_golden(
        "check-ipvs-member1-no-gateway-member2.json",
        json.dumps(normalised(report), indent=2) + "\n",
    )


def test_the_table_names_each_failure_and_with_v_its_evidence_and_remedy(lab):
    load(lab, load_scenario(ACCEPTANCE))
    run = gdoctor("check", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1
    assert "\x1b[" not in run.stdout  # no colour when stdout is not a terminal
    assert "  GD101  member1: kube-proxy runs in IPVS mode" in run.stdout
    assert "gdoctor fix GD101" in run.stdout
    assert "evidence configMapMode" not in run.stdout
    counts = next(line for line in run.stdout.splitlines() if line.endswith(" 0 error"))
    assert " 2 fail, " in counts
    verbose = gdoctor("check", "-v", "--kubeconfig", str(lab.kubeconfig))
    assert "GD101 member1 [error] kube-proxy runs in IPVS mode" in verbose.stdout
    assert "evidence configMapMode: ipvs" in verbose.stdout
    assert "kubectl label node member2" in verbose.stdout


def test_a_healthy_lab_exits_0(lab):
    load(lab, load_scenario(SCENARIOS / "GD401" / "gateway-labelled-PASS"))
    run = gdoctor("check", "--all", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 0, run.stdout


def test_context_selection_reads_only_the_named_clusters(lab):
    load(lab, load_scenario(ACCEPTANCE))
    run = gdoctor(
        "check", "-o", "json", "--kubeconfig", str(lab.kubeconfig), "--context", "member3"
    )
    assert run.code == 0
    assert [c["name"] for c in run.json()["clusters"]] == ["member3"]


def test_a_token_with_no_rights_skips_every_check_with_the_forbidden_read(lab):
    load(lab, load_scenario(ACCEPTANCE))
    run = gdoctor_process("check", "-o", "json", "--kubeconfig", str(lab.kubeconfig_nobody))
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    results = run.json()["results"]
    assert {r["status"] for r in results} == {"skip"}
    assert {r["skipReason"] for r in results if r["check"] == "GD401"} == {
        "forbidden: list submariners.submariner.io in submariner-operator"
    }


def test_the_reader_token_sees_everything_the_checks_need(lab):
    load(lab, load_scenario(ACCEPTANCE))
    admin = gdoctor("check", "-o", "json", "--kubeconfig", str(lab.kubeconfig))
    reader = gdoctor("check", "-o", "json", "--kubeconfig", str(lab.kubeconfig_reader))
    assert statuses(reader.json()) == statuses(admin.json())
    assert "skip" not in {r["status"] for r in reader.json()["results"]} - {
        r["status"] for r in admin.json()["results"]
    }


def test_a_server_on_a_closed_port_is_unreachable_and_the_others_go_on(lab, tmp_path):
    config = yaml.safe_load(Path(lab.kubeconfig).read_text())
    closed = "https://127.0.0.1:9"  # the discard port: nothing listens on loopback
    config["clusters"][1]["cluster"]["server"] = closed
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    load(lab, load_scenario(SCENARIOS / "GD401" / "gateway-labelled-PASS"))
    run = gdoctor_process(
        "check", "-o", "json", "--kubeconfig", str(path), "--request-timeout", "3"
    )
    assert run.code == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert "cluster member2 unreachable" in run.stderr
    report = run.json()
    member2 = report["clusters"][1]
    assert member2["reachable"] is False
    assert "did not answer" in member2["error"]
    by_cluster = {(r["check"], r["cluster"]): r for r in report["results"]}
    assert by_cluster["GD101", "member2"]["status"] == "error"
    assert by_cluster["GD101", "member1"]["status"] == "pass"


def test_a_stale_context_is_skipped_and_shown_without_changing_the_exit_code(lab, tmp_path):
    config = yaml.safe_load(Path(lab.kubeconfig).read_text())
    config["clusters"].append({"name": "gone", "cluster": {}})
    config["contexts"].append({"name": "stale", "context": {"cluster": "gone", "user": "x"}})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    load(lab, load_scenario(SCENARIOS / "GD401" / "gateway-labelled-PASS"))
    run = gdoctor_process("check", "-o", "json", "--kubeconfig", str(path))
    assert run.code == 0, run.stderr
    assert "context stale names cluster 'gone', which has no server: skipped" in run.stderr
    report = run.json()
    jsonschema.validate(report, SCHEMA)
    stale = report["clusters"][-1]
    assert (stale["name"], stale["reachable"]) == ("stale", False)
    assert stale["skipped"] == "context stale names cluster 'gone', which has no server"
    named = gdoctor_process("check", "--kubeconfig", str(path), "--context", "stale")
    assert named.code == 2


def test_insecure_skip_tls_verify_is_one_warning_per_cluster_and_nothing_from_urllib3(
    lab, tmp_path
):
    config = yaml.safe_load(Path(lab.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"].pop("certificate-authority-data", None)
        entry["cluster"].pop("certificate-authority", None)
        entry["cluster"]["insecure-skip-tls-verify"] = True
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    load(lab, load_scenario(SCENARIOS / "GD401" / "gateway-labelled-PASS"))
    run = gdoctor_process("check", "--all", "--no-host", "--kubeconfig", str(path))
    assert run.code == 0, run.stderr
    assert "InsecureRequestWarning" not in run.stderr
    assert "Unverified HTTPS request" not in run.stderr
    warnings = [line for line in run.stderr.splitlines() if "skips TLS verification" in line]
    assert sorted(w.split()[2] for w in warnings) == ["member1", "member2", "member3"]


def test_control_characters_in_a_lab_object_never_reach_the_terminal_raw(lab):
    import copy
    import dataclasses
    import xml.etree.ElementTree as ET

    scenario = load_scenario(SCENARIOS / "GD402" / "ping-failure-FAIL")
    objects = copy.deepcopy(scenario.objects)
    tail = "\x1b[2J\x1b]0;owned\x07\r\nGD999  member9: a fake line"
    for obj in objects["member1"]:
        if obj["kind"] == "Gateway":
            for connection in obj.get("status", {}).get("connections", []):
                connection["statusMessage"] = connection.get("statusMessage", "") + tail
    load(lab, dataclasses.replace(scenario, objects=objects))
    run = gdoctor_process("check", "GD402", "-v", "--kubeconfig", str(lab.kubeconfig))
    assert run.code == 1, run.stderr
    for raw in ("\x1b", "\x07", "\r"):
        assert raw not in run.stdout
        assert raw not in run.stderr
    assert not any(line.startswith("GD999") for line in run.stdout.splitlines())
    junit = gdoctor_process("check", "GD402", "-o", "junit", "--kubeconfig", str(lab.kubeconfig))
    ET.fromstring(junit.stdout.split("\n", 1)[1])
