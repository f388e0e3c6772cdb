"""The result model: what checks return and what reports carry. Pure data, no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "host"
"""The `cluster` value of results about the machine gdoctor runs on."""


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    cluster: str
    api_version: str
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Remediation:
    text: str
    fix: str | None = None
    """The id of the fix that applies this remedy, when one exists."""


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    message: str
    resources: tuple[ResourceRef, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    related_clusters: tuple[str, ...] = ()
    remediation: Remediation | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    name: str
    cluster: str
    status: Status
    severity: Severity
    duration_ms: int = 0
    findings: tuple[Finding, ...] = ()
    skip_reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    server: str
    reachable: bool
    cluster_id: str | None = None
    kubernetes_version: str | None = None
    observed_at: str | None = None
    error: str | None = None
    skipped: str | None = None
    """Why the context was not read (its cluster has no server): not a failure of the run."""


@dataclass(frozen=True, slots=True)
class RootCause:
    """A failing check that no other failing check explains, with what it likely explains."""

    check: str
    clusters: tuple[str, ...]
    """Where it fails, in report order."""
    explains: tuple[tuple[str, str], ...] = ()
    """(check, cluster) of each failing result it explains, directly or through another."""


@dataclass(frozen=True, slots=True)
class Report:
    tool_version: str
    started_at: str
    duration_ms: int
    clusters: Sequence[ClusterInfo]
    results: Sequence[CheckResult]
    warnings: Sequence[str] = ()
    root_causes: Sequence[RootCause] = ()
    """The failing checks in the order to fix them: those explaining the most first."""

    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    @property
    def incomplete(self) -> bool:
        return any(not c.reachable and c.skipped is None for c in self.clusters) or any(
            r.status is Status.ERROR for r in self.results
        )


def highest_severity(findings: Sequence[Finding], default: Severity) -> Severity:
    if not findings:
        return default
    return max((f.severity for f in findings), key=lambda s: s.rank)
