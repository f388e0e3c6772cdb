"""JUnit and SARIF renderings, validated against the real schemas kept in docs/schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import xmlschema
from gdoctor_run import assert_golden

from globalnet_doctor.formatters import junit, sarif
from globalnet_doctor.model import (
    CheckResult,
    ClusterInfo,
    Finding,
    Remediation,
    Report,
    ResourceRef,
    Severity,
    Status,
)
from globalnet_doctor.registry import load_registry

SCHEMAS = Path(__file__).parents[2] / "docs" / "schemas"

REPORT = Report(
    tool_version="0.1.0",
    started_at="2026-11-27T02:00:00.000Z",
    duration_ms=1234,
    clusters=[
        ClusterInfo("member1", "https://127.0.0.1:6443", True, "cluster-a", "v1.20.2"),
        ClusterInfo("member2", "https://127.0.0.1:6444", False, error="connection refused"),
    ],
    results=[
        CheckResult(
            "GD101",
            "kube-proxy-ipvs",
            "member1",
            Status.FAIL,
            Severity.ERROR,
            3,
            findings=(
                Finding(
                    Severity.ERROR,
                    "kube-proxy runs in IPVS mode; Submariner supports only iptables mode",
                    resources=(
                        ResourceRef("member1", "v1", "ConfigMap", "kube-proxy", "kube-system"),
                    ),
                    evidence={"configMapMode": "ipvs"},
                    remediation=Remediation("Set mode: iptables <and> restart", "GD101"),
                ),
            ),
        ),
        CheckResult(
            "GD101",
            "kube-proxy-ipvs",
            "member2",
            Status.ERROR,
            Severity.ERROR,
            error="cluster unreachable: connection refused",
        ),
        CheckResult(
            "GD203",
            "calico-ippools-missing",
            "member1",
            Status.SKIP,
            Severity.ERROR,
            skip_reason="Calico is not installed",
        ),
        CheckResult("GD401", "no-gateway-node", "member1", Status.PASS, Severity.ERROR, 1),
    ],
)


def test_junit_has_a_testcase_per_check_and_cluster_and_validates_against_jenkins_xsd():
    text = junit.render(REPORT)
    xmlschema.XMLSchema(str(SCHEMAS / "junit-jenkins.xsd")).validate(text)
    assert text.count("<testcase ") == 4
    assert "<skipped>Calico is not installed</skipped>" in text
    assert "&lt;and&gt;" in text  # markup in messages is escaped
    assert_golden("report.junit.xml", text)


def test_sarif_validates_against_the_sarif_2_1_0_schema():
    checks = load_registry().checks
    document = json.loads(sarif.render(REPORT, checks))
    schema = json.loads((SCHEMAS / "sarif-2.1.0.json").read_text())
    jsonschema.validate(document, schema)
    (run,) = document["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["GD101", "GD203", "GD401"]
    (result,) = run["results"]
    assert result["ruleId"] == "GD101"
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == (
        "member1/kube-system/ConfigMap/kube-proxy"
    )
    assert run["invocations"][0]["executionSuccessful"] is False
    assert_golden("report.sarif.json", json.dumps(document, indent=2) + "\n")
