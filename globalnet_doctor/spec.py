"""What a check is: metadata, declared inputs, and one pure ``run`` over read-only views."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, ClassVar

from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.host_situation import HostSituation
from globalnet_doctor.host_view import HostProbe, HostRole
from globalnet_doctor.kinds import Kind, Probe, Read
from globalnet_doctor.model import Finding, Remediation, ResourceRef, Severity
from globalnet_doctor.view import ClusterView, KubeObject
from globalnet_doctor.view import NotApplicable as NotApplicable  # check authors import it here


class Scope(enum.StrEnum):
    CLUSTER = "cluster"
    """One result per cluster; the check may read every cluster's view."""
    HOST = "host"
    """One result for the machine gdoctor runs on."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    cluster: ClusterView
    """The cluster this result is about."""
    clusters: Sequence[ClusterView]
    """Every cluster of the run, in kubeconfig order (the current one included)."""
    settings: Settings = field(default_factory=Settings)
    probes: bool = False
    """Whether this check may send traffic or write-verb requests."""
    host: HostSituation | None = None
    """The machine gdoctor runs on (its view, role, owning cluster and the clusters' facts
    that place it), when host checks run here and it could be read (see "When host checks
    run"); the same object host fixes get. For a host-scope check, ``cluster`` is the owning
    cluster's view (else the first cluster's)."""


class Check:
    """Detect one failure mode. ``run`` is a pure function of the context: it never writes,
    prints or sleeps; it yields one finding per problem and nothing when healthy."""

    id: ClassVar[str]
    name: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    tags: ClassVar[frozenset[str]] = frozenset()
    scope: ClassVar[Scope] = Scope.CLUSTER
    probes: ClassVar[bool] = False
    host_roles: ClassVar[frozenset[HostRole]] = frozenset()
    """For host-scope checks: the roles of the machine the check applies to; it ``skip``s on
    a machine in another role."""
    uses_host: ClassVar[bool] = False
    """A cluster-scope check that also reads the machine (``ctx.host``) when host checks run
    here; host-scope checks always do."""
    fix: ClassVar[str | None] = None
    """The id of the fix paired with this check, when it has one."""
    explains: ClassVar[frozenset[str]] = frozenset()
    """Ids of the checks whose failures this check's failure can explain (GD101's IPVS mode
    breaks GD402's health-check pings): the report's root-cause order comes from these
    declarations alone, so a new check joins it by declaring."""

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        """Every Kubernetes read ``run`` may make, so the adapter reads each once per run."""
        return ()

    @classmethod
    def probe_requests(cls, view: ClusterView, settings: Settings) -> Sequence[Probe]:
        """Probes to send to this cluster, decided from what was read (only when probing)."""
        return ()

    @classmethod
    def host_probe_requests(
        cls, host: HostSituation, clusters: Sequence[ClusterView], settings: Settings
    ) -> Sequence[HostProbe]:
        """Probes to send from this machine, decided from the host and the clusters (only
        when probing, and only where host checks run)."""
        return ()

    @classmethod
    def reads_host(cls) -> bool:
        return cls.scope is Scope.HOST or cls.uses_host

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(
        self,
        message: str,
        *,
        resources: Iterable[ResourceRef] = (),
        evidence: Mapping[str, Any] | None = None,
        remedy: str | None = None,
        severity: Severity | None = None,
        related_clusters: Iterable[str] = (),
    ) -> Finding:
        """A finding with this check's default severity and, with ``remedy``, its fix id."""
        return Finding(
            severity=severity or self.severity,
            message=message,
            resources=tuple(resources),
            evidence=dict(evidence or {}),
            related_clusters=tuple(related_clusters),
            remediation=Remediation(remedy, self.fix) if remedy is not None else None,
        )


def ref(cluster: str, kind: Kind, obj: KubeObject, api_version: str | None = None) -> ResourceRef:
    """The resource reference of an object read from ``cluster``."""
    version = api_version or obj.get("apiVersion") or kind.group
    return ResourceRef(
        cluster=cluster,
        api_version=str(version),
        kind=kind.kind,
        namespace=objects.metadata(obj).get("namespace"),
        name=objects.name(obj),
    )


@dataclass(frozen=True, slots=True)
class CheckPack:
    """What a plugin distribution registers under the ``globalnet_doctor.checks`` entry point."""

    checks: tuple[type[Check], ...]
    docs: Traversable | None = None
    """The folder holding ``<ID>.md`` for each check of the pack."""
