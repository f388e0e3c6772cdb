"""GD310: the cluster egress IPs are asked for the way Globalnet reads them.

Globalnet honours one ClusterGlobalEgressIP, ``cluster-egress.submariner.io`` (cluster-scoped),
whose count is ``spec.numGlobalIPs`` (the website's example writes ``numberOfIPs``, which the
CRD prunes, so the cluster silently gets 1 IP); a GlobalEgressIP's count is ``numberOfIPs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.global_ips import (
    CLUSTER_EGRESS_NAME,
    LAST_APPLIED,
    NUM_GLOBAL_IPS_MAX,
    allocated_ips,
    cluster_egress_count,
    egress_reads,
    int_field,
    last_applied_spec,
    last_condition,
)
from globalnet_doctor.facts.globalnet import require_globalnet
from globalnet_doctor.facts.submariner import GLOBALNET, daemonset_problem, submariner_reads
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import KubeObject


def intended_count(cgeip: KubeObject) -> tuple[int, str] | None:
    """The count someone meant with ``numberOfIPs`` on the ClusterGlobalEgressIP, and where it
    was seen (``spec`` or the last-applied annotation); None when nobody wrote it."""
    stored = int_field(objects.spec(cgeip), "numberOfIPs")
    if stored is not None:
        return stored, "spec"
    applied = int_field(last_applied_spec(cgeip), "numberOfIPs")
    if applied is not None:
        return applied, LAST_APPLIED
    return None


class ClusterEgressIpMisconfigured(Check):
    id = "GD310"
    name = "cluster-egress-ip-misconfigured"
    title = "The ClusterGlobalEgressIP asks for the cluster egress IPs the way Globalnet reads it"
    severity = Severity.WARNING
    tags = frozenset({"globalnet", "egress", "cluster"})
    fix = "GD310"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner_reads(settings),
            *egress_reads(),
            Read(kinds.DAEMONSETS, settings.submariner_namespace, GLOBALNET),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_globalnet(ctx.cluster, ctx.settings)
        view = ctx.cluster
        cgeips = sorted(view.list(kinds.CLUSTER_GLOBAL_EGRESS_IPS), key=objects.name)
        default = next((c for c in cgeips if objects.name(c) == CLUSTER_EGRESS_NAME), None)
        if default is None:
            problem = daemonset_problem(
                view.get(kinds.DAEMONSETS, GLOBALNET, ctx.settings.submariner_namespace), GLOBALNET
            )
            if problem is None:
                yield self.finding(
                    f"there is no ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} although "
                    f"{GLOBALNET} is ready: Globalnet creates it when its controllers start, so "
                    "they have not started (not the leader?) and pods without a GlobalEgressIP "
                    "have no egress IP",
                    severity=Severity.ERROR,
                    evidence={"clusterGlobalEgressIPs": [objects.name(c) for c in cgeips]},
                    remedy=f"Read the globalnet log (kubectl -n {ctx.settings.submariner_namespace}"
                    f" logs ds/{GLOBALNET}); restarting it makes it create the instance.",
                )
        else:
            yield from self._default(ctx, default)
        for cgeip in cgeips:
            if cgeip is default:
                continue
            yield self.finding(
                f"ClusterGlobalEgressIP {objects.name(cgeip)} is ignored: only "
                f"{CLUSTER_EGRESS_NAME} is honoured",
                resources=[ref(view.name, kinds.CLUSTER_GLOBAL_EGRESS_IPS, cgeip)],
                evidence={"name": objects.name(cgeip), "allocated": last_condition(cgeip)},
                remedy=f"Set the count on {CLUSTER_EGRESS_NAME} (spec.numGlobalIPs) and delete "
                f"{objects.name(cgeip)}.",
            )
        for geip in sorted(view.list(kinds.GLOBAL_EGRESS_IPS), key=objects.namespaced_name):
            yield from self._global_egress(ctx, geip)

    def _default(self, ctx: CheckContext, cgeip: KubeObject) -> Iterable[Finding]:
        view = ctx.cluster
        resources = [ref(view.name, kinds.CLUSTER_GLOBAL_EGRESS_IPS, cgeip)]
        effective = cluster_egress_count(cgeip)
        allocated = allocated_ips(cgeip)
        condition = last_condition(cgeip)
        evidence = {
            "numGlobalIPs": objects.spec(cgeip).get("numGlobalIPs"),
            "effective": effective,
            "allocatedIPs": allocated,
            "allocated": condition,
        }
        intended = intended_count(cgeip)
        if intended is not None:
            count, where = intended
            fewer = effective < count
            yield self.finding(
                f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} asks for {count} IPs with "
                f"numberOfIPs (in its {where}), a field it does not have: Globalnet reads "
                f"numGlobalIPs and allocates {effective}",
                severity=Severity.ERROR if fewer else Severity.WARNING,
                resources=resources,
                evidence={**evidence, "numberOfIPs": count, "seenIn": where},
                remedy=f"Write the count as spec.numGlobalIPs (0-{NUM_GLOBAL_IPS_MAX}) and rename "
                "numberOfIPs in your manifest; `gdoctor fix GD310` does both (Globalnet then "
                "releases every cluster egress IP and allocates a new block).",
            )
        reason = str((condition or {}).get("reason") or "")
        if (condition or {}).get("status") == "False" and reason in ("ZeroInput", "InvalidInput"):
            yield self.finding(
                f"ClusterGlobalEgressIP {CLUSTER_EGRESS_NAME} has no egress IP: {reason} "
                f"({(condition or {}).get('message')}); pods without a GlobalEgressIP cannot "
                "reach other clusters",
                severity=Severity.ERROR,
                resources=resources,
                evidence=evidence,
                remedy="Set spec.numGlobalIPs to a count from 1 to "
                f"{NUM_GLOBAL_IPS_MAX} (kubectl patch clusterglobalegressip {CLUSTER_EGRESS_NAME} "
                '--type merge -p \'{"spec":{"numGlobalIPs":8}}\').',
            )
        yield from self._iptables(ctx, cgeip, kinds.CLUSTER_GLOBAL_EGRESS_IPS)

    def _iptables(self, ctx: CheckContext, obj: KubeObject, kind: kinds.Kind) -> Iterable[Finding]:
        condition = last_condition(obj)
        if (condition or {}).get("reason") != "ProgramIPTableRulesFailed":
            return
        yield self.finding(
            f"{kind.kind} {objects.namespaced_name(obj)}: Globalnet failed to program its egress "
            f"rules on the gateway: {(condition or {}).get('message')}",
            severity=Severity.ERROR,
            resources=[ref(ctx.cluster.name, kind, obj)],
            evidence={"allocated": condition},
            remedy=f"Read the globalnet log on the active gateway node (kubectl -n "
            f"{ctx.settings.submariner_namespace} logs ds/{GLOBALNET}): iptables or nftables is "
            "failing there.",
        )

    def _global_egress(self, ctx: CheckContext, geip: KubeObject) -> Iterable[Finding]:
        misnamed = objects.spec(geip).get("numGlobalIPs")
        if misnamed is None:
            misnamed = last_applied_spec(geip).get("numGlobalIPs")
        if misnamed is not None:
            yield self.finding(
                f"GlobalEgressIP {objects.namespaced_name(geip)} asks for {misnamed} IPs with "
                "numGlobalIPs, a field it does not have: its count is numberOfIPs",
                resources=[ref(ctx.cluster.name, kinds.GLOBAL_EGRESS_IPS, geip)],
                evidence={
                    "numGlobalIPs": misnamed,
                    "numberOfIPs": objects.spec(geip).get("numberOfIPs"),
                    "allocatedIPs": allocated_ips(geip),
                },
                remedy="Write the count as spec.numberOfIPs on a GlobalEgressIP "
                "(numGlobalIPs is the ClusterGlobalEgressIP's field).",
            )
        yield from self._iptables(ctx, geip, kinds.GLOBAL_EGRESS_IPS)
