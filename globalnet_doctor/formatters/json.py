"""The JSON report (versioned; its schema is docs/schemas/report.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from globalnet_doctor.model import CheckResult, ClusterInfo, Finding, Report, ResourceRef

SCHEMA_VERSION = 1


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "gdoctor", "version": report.tool_version},
        "startedAt": report.started_at,
        "durationMs": report.duration_ms,
        "clusters": [_cluster(c) for c in report.clusters],
        "summary": report.summary(),
        "rootCauses": [
            {
                "check": cause.check,
                "clusters": list(cause.clusters),
                "explains": [{"check": c, "cluster": k} for c, k in cause.explains],
            }
            for cause in report.root_causes
        ],
        "warnings": list(report.warnings),
        "results": [_result(r) for r in report.results],
    }


def render(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, sort_keys=False) + "\n"


def _cluster(cluster: ClusterInfo) -> dict[str, Any]:
    fields = {
        "name": cluster.name,
        "server": cluster.server,
        "clusterID": cluster.cluster_id,
        "reachable": cluster.reachable,
        "kubernetesVersion": cluster.kubernetes_version,
        "observedAt": cluster.observed_at,
        "error": cluster.error,
    }
    if cluster.skipped is not None:
        fields["skipped"] = cluster.skipped
    return fields


def _result(result: CheckResult) -> dict[str, Any]:
    return {
        "check": result.check,
        "name": result.name,
        "cluster": result.cluster,
        "status": result.status.value,
        "severity": result.severity.value,
        "durationMs": result.duration_ms,
        "skipReason": result.skip_reason,
        "error": result.error,
        "findings": [_finding(f) for f in result.findings],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    remediation = finding.remediation
    return {
        "severity": finding.severity.value,
        "message": finding.message,
        "resources": [_resource(r) for r in finding.resources],
        "evidence": dict(finding.evidence),
        "relatedClusters": list(finding.related_clusters),
        "remediation": (
            {"text": remediation.text, "fix": remediation.fix} if remediation is not None else None
        ),
    }


def _resource(ref: ResourceRef) -> dict[str, Any]:
    return {
        "cluster": ref.cluster,
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
    }
