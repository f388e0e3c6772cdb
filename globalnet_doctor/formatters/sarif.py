"""SARIF 2.1.0 (docs/schemas/sarif-2.1.0.json): one rule per check, one result per finding.

Cluster resources are not files, so each result carries logical locations
(``cluster/namespace/Kind/name``) and the evidence in its property bag.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from globalnet_doctor.model import Finding, Report, Severity, Status
from globalnet_doctor.spec import Check

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: Report, checks: Sequence[type[Check]]) -> str:
    ran = {r.check for r in report.results}
    rules = [
        {
            "id": check.id,
            "name": check.name,
            "shortDescription": {"text": check.title},
            "fullDescription": {"text": check.title},
            "help": {"text": f"gdoctor explain {check.id}"},
            "defaultConfiguration": {"level": _LEVELS[check.severity]},
            "properties": {"tags": sorted(check.tags)},
        }
        for check in checks
        if check.id in ran
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [
        _result(result.check, index[result.check], result.cluster, finding)
        for result in report.results
        if result.status is Status.FAIL
        for finding in result.findings
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{r.check} on {r.cluster}: {r.error}"},
            "descriptor": {"id": r.check},
        }
        for r in report.results
        if r.status is Status.ERROR
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "gdoctor", "version": report.tool_version, "rules": rules}
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.incomplete,
                        "startTimeUtc": report.started_at,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _result(check_id: str, rule_index: int, cluster: str, finding: Finding) -> dict[str, Any]:
    locations = [
        {
            "logicalLocations": [
                {
                    "name": ref.name,
                    "fullyQualifiedName": "/".join(
                        p for p in (ref.cluster, ref.namespace, ref.kind, ref.name) if p
                    ),
                    "kind": "resource",
                }
            ]
        }
        for ref in finding.resources
    ] or [
        {"logicalLocations": [{"name": cluster, "fullyQualifiedName": cluster, "kind": "resource"}]}
    ]
    result: dict[str, Any] = {
        "ruleId": check_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": locations,
        "properties": {
            "cluster": cluster,
            "evidence": dict(finding.evidence),
            "relatedClusters": list(finding.related_clusters),
        },
    }
    if finding.remediation is not None:
        result["properties"]["remediation"] = finding.remediation.text
        if finding.remediation.fix:
            result["properties"]["fix"] = finding.remediation.fix
    return result
