"""GD003: the cluster and service CIDRs the Submariner CR declares contain the cluster's pods
and Services, and agree with what the control plane was started with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import cidrs, objects, submariner
from globalnet_doctor.facts.deployment import (
    NetworkSource,
    declared_cidrs,
    node_pod_cidrs,
    observed_addresses,
    outside,
    sources_for,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject

_LISTED = 10
"""How many objects outside the CIDR the evidence names (the count is always complete)."""


def _rejoin_remedy(field_name: str, sources: Sequence[NetworkSource]) -> str:
    flag = "--clustercidr" if field_name == "clusterCIDR" else "--servicecidr"
    hint = f" ({sources[0].cidr}, from {sources[0].where})" if sources else ""
    return (
        f"Set Submariner spec.{field_name} to the cluster's real CIDR{hint}: `gdoctor fix GD003` "
        f"when one authoritative source names it, else re-join with `subctl join … {flag} "
        "<cidr>`. The gateway and route-agent pods restart."
    )


def _stray(obj: KubeObject, ip: str) -> dict[str, str]:
    """How the evidence names an object outside the declared CIDR (with its node for pods)."""
    entry = {"object": objects.namespaced_name(obj), "ip": ip}
    node = objects.spec(obj).get("nodeName")
    return entry | {"node": str(node)} if node else entry


def one_node_cidr(nodes: Sequence[KubeObject], declared: Sequence[str]) -> KubeObject | None:
    """The node whose own pod CIDR is the whole declared cluster CIDR while another node's
    pod CIDR lies outside it (discovery took one node's /24, operator before 0.16)."""
    if len(nodes) < 2 or len(declared) != 1:
        return None
    owner = next((n for n in nodes if declared[0] in node_pod_cidrs(n)), None)
    if owner is None:
        return None
    others = [c for n in nodes if n is not owner for c in node_pod_cidrs(n)]
    if all(cidrs.covers(declared[0], c) for c in others):
        return None
    return owner


class ClusterCidrMismatch(Check):
    id = "GD003"
    name = "cluster-cidr-mismatch"
    title = "the Submariner CR's cluster and service CIDRs contain the cluster's pods and Services"
    severity = Severity.ERROR
    tags = frozenset({"deployment", "cluster", "cidr"})
    explains = frozenset({"GD402", "GD603"})
    fix = "GD003"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            Read(kinds.NODES),
            Read(kinds.PODS),
            Read(kinds.SERVICES),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        cr = submariner.require_submariner(view, ctx.settings)
        nodes = view.list(kinds.NODES)
        cluster_cidrs = declared_cidrs(cr, "clusterCIDR")
        service_cidrs = declared_cidrs(cr, "serviceCIDR")
        cluster_sources = sources_for(view, "clusterCIDR")
        service_sources = sources_for(view, "serviceCIDR")
        pod_ips = observed_addresses(view, "clusterCIDR")
        service_ips = observed_addresses(view, "serviceCIDR")
        findings = [
            *self._outside(view, cr, "clusterCIDR", cluster_cidrs, pod_ips, cluster_sources),
            *self._one_node(view, cr, nodes, cluster_cidrs, cluster_sources),
            *self._outside(view, cr, "serviceCIDR", service_cidrs, service_ips, service_sources),
        ]
        yield from findings
        judged = {f.evidence.get("field") for f in findings}
        for field_name, declared, sources in (
            ("clusterCIDR", cluster_cidrs, cluster_sources),
            ("serviceCIDR", service_cidrs, service_sources),
        ):
            if field_name not in judged:
                yield from self._disagreeing(view, cr, field_name, declared, sources)

    def _outside(
        self,
        view: ClusterView,
        cr: KubeObject,
        field_name: str,
        declared: Sequence[str],
        addresses: Sequence[tuple[KubeObject, str]],
        sources: Sequence[NetworkSource],
    ) -> Iterable[Finding]:
        if not declared:
            return
        strays = outside(addresses, declared)
        if not strays:
            return
        what = "pod(s)" if field_name == "clusterCIDR" else "Service(s)"
        listed = [_stray(o, ip) for o, ip in strays[:_LISTED]]
        examples = ", ".join(f"{e['object']} {e['ip']}" for e in listed[:3])
        yield self.finding(
            f"{len(strays)} {what} have an IP outside the declared {field_name} "
            f"{','.join(declared)}: {examples}",
            resources=[ref(view.name, kinds.SUBMARINERS, cr)],
            evidence={
                "field": field_name,
                "declared": list(declared),
                "outsideCount": len(strays),
                "outside": listed,
                "authoritative": [{"where": s.where, "cidr": s.cidr} for s in sources],
            },
            remedy=_rejoin_remedy(field_name, sources),
        )

    def _one_node(
        self,
        view: ClusterView,
        cr: KubeObject,
        nodes: Sequence[KubeObject],
        declared: Sequence[str],
        sources: Sequence[NetworkSource],
    ) -> Iterable[Finding]:
        owner = one_node_cidr(nodes, declared)
        if owner is None:
            return
        yield self.finding(
            f"the declared clusterCIDR {declared[0]} is only node {objects.name(owner)}'s pod "
            f"CIDR; the pod CIDRs of the other {len(nodes) - 1} node(s) lie outside it",
            resources=[ref(view.name, kinds.SUBMARINERS, cr), ref(view.name, kinds.NODES, owner)],
            evidence={
                "field": "clusterCIDR",
                "declared": list(declared),
                "nodePodCIDRs": {objects.name(n): list(node_pod_cidrs(n)) for n in nodes},
                "authoritative": [{"where": s.where, "cidr": s.cidr} for s in sources],
            },
            remedy=_rejoin_remedy("clusterCIDR", sources),
        )

    def _disagreeing(
        self,
        view: ClusterView,
        cr: KubeObject,
        field_name: str,
        declared: Sequence[str],
        sources: Sequence[NetworkSource],
    ) -> Iterable[Finding]:
        """A warning: a control-plane source names a CIDR the declared ones do not cover,
        although no pod or Service lies outside them yet."""
        if not declared:
            return
        uncovered = [s for s in sources if not any(cidrs.covers(d, s.cidr) for d in declared)]
        if not uncovered:
            return
        yield self.finding(
            f"the declared {field_name} {','.join(declared)} does not cover "
            f"{uncovered[0].cidr} ({uncovered[0].where}); no object is outside it yet",
            severity=Severity.WARNING,
            resources=[ref(view.name, kinds.SUBMARINERS, cr)],
            evidence={
                "field": field_name,
                "declared": list(declared),
                "authoritative": [{"where": s.where, "cidr": s.cidr} for s in uncovered],
            },
            remedy=_rejoin_remedy(field_name, uncovered),
        )
