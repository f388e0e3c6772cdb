"""GD308: the global CIDR is large enough for what Globalnet must allocate from it.

The pool (``admiral:pkg/ipam/ippool.go``) holds every address of the global CIDR but the
network and broadcast addresses; a prefix longer than /30 makes no pool at all. Allocating one
IP takes the highest free address, a block of n takes the lowest contiguous run of n. Holders:
the cluster egress IPs, each GlobalEgressIP's ``numberOfIPs``, one per GlobalIngressIP and one
per Gateway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network
from globalnet_doctor.facts.global_ips import (
    CLUSTER_EGRESS_NAME,
    POOL_ALLOCATION_FAILED,
    allocated_ips,
    cluster_egress_count,
    egress_count,
    egress_reads,
    global_ip_annotation,
    inside,
    last_condition,
    pool_size,
)
from globalnet_doctor.facts.globalnet import (
    export_reads,
    exports,
    require_globalnet,
    service_ingress_ip,
)
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject

POOL_WARN_RATIO = 0.8
"""Warn when this share of the pool is allocated."""
MAX_PREFIX_V4 = 30
"""``invalid prefix for CIDR``: a longer prefix leaves no address to allocate."""


def longest_free_run(network: Network, used: Iterable[str]) -> int:
    """The longest run of free, contiguous pool addresses (network and broadcast excluded)."""
    first, last = int(network.network_address) + 1, int(network.broadcast_address) - 1
    taken = sorted({int(ipaddress.ip_address(ip)) for ip in used if inside(ip, network)})
    best, start = 0, first
    for value in taken:
        if first <= value <= last:
            best = max(best, value - start)
            start = value + 1
    return max(best, last - start + 1)


class GlobalnetPoolExhausted(Check):
    id = "GD308"
    name = "globalnet-pool-exhausted"
    title = "The global CIDR holds every global IP Globalnet must allocate"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "cluster"})
    explains = frozenset({"GD302"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *export_reads(settings),
            *egress_reads(),
            Read(kinds.GATEWAYS, settings.submariner_namespace),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr, network = require_globalnet(view, settings)
        remedy = (
            "Lower the ClusterGlobalEgressIP's numGlobalIPs or GlobalEgressIPs' numberOfIPs, "
            "delete unused GlobalEgressIPs or exports, or re-join with a bigger global CIDR "
            "(`subctl join --globalnet-cidr`, once GD307 finds the broker's entry right, or "
            "`--globalnet-cluster-size`)."
        )
        if network.version == 4 and network.prefixlen > MAX_PREFIX_V4:
            yield self.finding(
                f"the global CIDR {network} is longer than /{MAX_PREFIX_V4}: Globalnet cannot "
                "create its IP pool (`invalid prefix for CIDR`) and does not start",
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence={"globalCIDR": str(network)},
                remedy="Re-join the cluster with a global CIDR of /30 or shorter.",
            )
            return
        size = pool_size(network)
        cgeips = list(view.list(kinds.CLUSTER_GLOBAL_EGRESS_IPS))
        default = next((c for c in cgeips if objects.name(c) == CLUSTER_EGRESS_NAME), None)
        geips = sorted(view.list(kinds.GLOBAL_EGRESS_IPS), key=objects.namespaced_name)
        giips = list(view.list(kinds.GLOBAL_INGRESS_IPS))
        gateways = list(view.list(kinds.GATEWAYS, settings.submariner_namespace))
        unmade = sum(
            1
            for e in exports(view)
            if e.cluster_ip_type and not e.headless and service_ingress_ip(view, e) is None
        )
        demand = {
            "clusterEgress": cluster_egress_count(default),
            "globalEgressIPs": sum(max(0, egress_count(g)) for g in geips),
            "globalIngressIPs": len(giips) + unmade,
            "gateways": len(gateways),
        }
        used: set[str] = set()
        for obj in (*cgeips, *geips, *giips):
            used.update(ip for ip in allocated_ips(obj) if inside(ip, network))
        for gateway in gateways:
            ip = global_ip_annotation(gateway)
            if ip is not None and inside(ip, network):
                used.add(ip)
        evidence: dict[str, Any] = {
            "globalCIDR": str(network),
            "poolSize": size,
            "demand": demand,
            "allocated": len(used),
        }
        failed = self._failures(
            view,
            (
                (kinds.CLUSTER_GLOBAL_EGRESS_IPS, cgeips),
                (kinds.GLOBAL_EGRESS_IPS, geips),
                (kinds.GLOBAL_INGRESS_IPS, giips),
            ),
        )
        if failed:
            messages = {
                objects.namespaced_name(o): str(c.get("message") or "") for _, o, c in failed
            }
            yield self.finding(
                f"Globalnet could not allocate global IPs for {len(failed)} object(s) "
                f"({POOL_ALLOCATION_FAILED}): the pool of {network} ({size} addresses) is "
                "exhausted or too fragmented",
                resources=[ref(view.name, kind, o) for kind, o, _ in failed],
                evidence={**evidence, "failures": messages},
                remedy=remedy,
            )
        total = sum(demand.values())
        if total > size:
            yield self.finding(
                f"Globalnet needs {total} global IPs in {network}, which holds {size}",
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence=evidence,
                remedy=remedy,
            )
        elif size and len(used) >= POOL_WARN_RATIO * size:
            yield self.finding(
                f"{len(used)} of the {size} global IPs of {network} are allocated "
                f"(at least {POOL_WARN_RATIO:.0%})",
                severity=Severity.WARNING,
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence=evidence,
                remedy=remedy,
            )
        yield from self._fragmented(ctx, network, used, default, geips, evidence, remedy)

    def _failures(
        self, view: ClusterView, groups: Iterable[tuple[Kind, Sequence[KubeObject]]]
    ) -> list[tuple[Kind, KubeObject, Any]]:
        found: list[tuple[Kind, KubeObject, Any]] = []
        for kind, items in groups:
            for obj in sorted(items, key=objects.namespaced_name):
                condition = last_condition(obj)
                if (
                    condition is not None
                    and condition.get("status") == "False"
                    and condition.get("reason") == POOL_ALLOCATION_FAILED
                ):
                    found.append((kind, obj, condition))
        return found

    def _fragmented(
        self,
        ctx: CheckContext,
        network: Network,
        used: set[str],
        default: KubeObject | None,
        geips: Sequence[KubeObject],
        evidence: dict[str, Any],
        remedy: str,
    ) -> Iterable[Finding]:
        pending: list[tuple[Kind, KubeObject, int]] = []
        if default is not None:
            pending.append(
                (kinds.CLUSTER_GLOBAL_EGRESS_IPS, default, cluster_egress_count(default))
            )
        pending += [(kinds.GLOBAL_EGRESS_IPS, g, egress_count(g)) for g in geips]
        run = None
        for kind, obj, wanted in pending:
            if wanted <= 1 or allocated_ips(obj):
                continue
            condition = last_condition(obj) or {}
            if condition.get("reason") == POOL_ALLOCATION_FAILED:
                continue  # already reported as a failure
            run = longest_free_run(network, used) if run is None else run
            if wanted > run:
                yield self.finding(
                    f"{kind.kind} {objects.namespaced_name(obj)} waits for a block of {wanted} "
                    f"contiguous global IPs, but the longest free run in {network} is {run}: "
                    "`unable to allocate a contiguous block` is coming",
                    severity=Severity.WARNING,
                    resources=[ref(ctx.cluster.name, kind, obj)],
                    evidence={**evidence, "wanted": wanted, "longestFreeRun": run},
                    remedy=remedy,
                )
