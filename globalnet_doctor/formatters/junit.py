"""JUnit XML (Jenkins' schema, docs/schemas/junit-jenkins.xsd): a testcase per check and cluster."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from globalnet_doctor.model import CheckResult, ClusterInfo, Report, Status
from globalnet_doctor.terminal import xml_safe


def render(report: Report) -> str:
    counts = report.summary()
    attributes = {
        "name": "gdoctor",
        "tests": str(len(report.results)),
        "failures": str(counts["fail"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skip"]),
        "time": f"{report.duration_ms / 1000:.3f}",
        "timestamp": report.started_at,
    }
    suites = ET.Element(
        "testsuites", {k: attributes[k] for k in ("name", "tests", "failures", "errors", "time")}
    )
    suite = ET.SubElement(suites, "testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "gdoctor.version", "value": report.tool_version})
    for cluster in report.clusters:
        ET.SubElement(
            properties,
            "property",
            {
                "name": f"cluster.{cluster.name}",
                "value": _cluster_state(cluster),
            },
        )
    for result in report.results:
        suite.append(_testcase(result))
    _make_xml_safe(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _make_xml_safe(root: ET.Element) -> None:
    """Text and attributes from clusters and bundles may hold characters XML 1.0 forbids
    (an ESC in a status message): escaped, so every consumer can parse the report."""
    for element in root.iter():
        if element.text is not None:
            element.text = xml_safe(element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = xml_safe(value)


def _testcase(result: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": f"{result.check} {result.name}",
            "name": result.cluster,
            "time": f"{result.duration_ms / 1000:.3f}",
        },
    )
    if result.status is Status.SKIP:
        ET.SubElement(case, "skipped").text = result.skip_reason or ""
    elif result.status is Status.ERROR:
        ET.SubElement(case, "error", {"message": result.error or "", "type": "error"})
    for finding in result.findings:
        failure = ET.SubElement(
            case, "failure", {"message": finding.message, "type": finding.severity.value}
        )
        lines = [
            f"{key}: {json.dumps(value, sort_keys=True)}" for key, value in finding.evidence.items()
        ]
        if finding.remediation is not None:
            lines.append(f"remedy: {finding.remediation.text}")
        failure.text = "\n".join(lines)
    return case


def _cluster_state(cluster: ClusterInfo) -> str:
    if cluster.skipped is not None:
        return f"skipped: {cluster.skipped}"
    return cluster.server if cluster.reachable else f"unreachable: {cluster.error}"
