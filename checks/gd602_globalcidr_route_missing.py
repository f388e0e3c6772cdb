"""GD602: the external host has no route to the global CIDR through a gateway node.

The host reaches global IPs only through a gateway node of the cluster that owns it, on a
subnet it is directly connected to (the field report: ``242.0.0.0/8 via 172.16.255.183``). The
check asks the kernel (``ip route get``) where packets to the broker's global range and to each
cluster's global CIDR go, and judges the next hop against the clusters' nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import host_situation as host_facts
from globalnet_doctor.facts.cidrs import overlaps, sort_key
from globalnet_doctor.facts.clusterset import ClusterFacts, NodeAddress
from globalnet_doctor.facts.gateways import GATEWAY_LABEL
from globalnet_doctor.host_check import HostCheck, facts_of, require_host, route_taken
from globalnet_doctor.host_situation import (
    OwnerSource,
    suggested_gateway,
)
from globalnet_doctor.host_view import HostRole, HostView, RouteLookup
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import CheckContext


@dataclass(frozen=True, slots=True)
class RouteProblem:
    kind: str
    """``no-route``, ``no-next-hop``, ``not-a-node``, ``not-a-gateway``, ``other-cluster``,
    ``not-connected``."""
    summary: str
    """What is wrong with the next hop, shared by every CIDR that takes the same path."""
    node: NodeAddress | None = None


def judge(
    host: HostView, lookup: RouteLookup, cluster_facts: ClusterFacts, owner: str | None
) -> RouteProblem | None:
    """Whether the kernel's answer for a global CIDR is a gateway node of the owning cluster
    on a directly connected subnet; what is wrong otherwise."""
    taken = route_taken(lookup)
    if lookup.error is not None or not lookup.routed:
        return RouteProblem("no-route", f"the kernel has no route for it: {taken}")
    by_default = lookup.matched is not None and lookup.matched.is_default
    path = "packets for it take the default route" if by_default else "packets for it go"
    if lookup.gateway is None:
        return RouteProblem(
            "no-next-hop",
            f"{path} straight onto {lookup.interface} without a next hop, so the kernel asks "
            f"the link for each global IP itself: {taken}",
        )
    node = cluster_facts.node_at(lookup.gateway)
    if node is None:
        return RouteProblem(
            "not-a-node", f"{path} via {lookup.gateway}, which is no cluster node: {taken}"
        )
    if not node.gateway:
        return RouteProblem(
            "not-a-gateway",
            f"{path} via {node.describe()}, which is not labelled {GATEWAY_LABEL}=true: {taken}",
            node,
        )
    if owner is not None and node.context != owner:
        return RouteProblem(
            "other-cluster",
            f"{path} via {node.describe()}, but this machine belongs to {owner}, whose "
            f"Globalnet alone gives it a global IP: {taken}",
            node,
        )
    if not host.addresses_reaching(lookup.gateway):
        return RouteProblem(
            "not-connected",
            f"{path} via {lookup.gateway} ({node.describe()}), on no subnet this machine has "
            f"an address on: {taken}",
            node,
        )
    return None


def _cidr_text(cidrs: Sequence[str], global_range: str) -> str:
    if cidrs[0] == global_range and len(cidrs) > 1:
        return f"{global_range} (and {', '.join(cidrs[1:])} in it)"
    return ", ".join(cidrs)


def _remedy(host: HostView, cluster_facts: ClusterFacts, owner: str | None) -> str:
    gateway = suggested_gateway(host, cluster_facts, owner)
    cidr = cluster_facts.global_range
    if gateway is None:
        return (
            f"Give this machine an address on a gateway node's subnet, then route {cidr} via "
            "that gateway node's InternalIP."
        )
    interface = host.addresses_reaching(gateway.address)[0].interface
    hop = gateway.address
    return (
        f"Route the global CIDR through {gateway.describe()}: `ip route replace {cidr} via "
        f"{hop} dev {interface}`, and persist it for the network manager: "
        f"NetworkManager `nmcli connection modify <connection> +ipv4.routes '{cidr} {hop}'`; "
        f"ifupdown `up ip route replace {cidr} via {hop}` under `iface {interface}` in "
        f"/etc/network/interfaces; network-scripts `{cidr} via {hop} dev {interface}` in "
        f"/etc/sysconfig/network-scripts/route-{interface}; systemd-networkd a [Route] "
        f"section with Destination={cidr} and Gateway={hop}."
    )


class GlobalCidrRouteMissing(HostCheck):
    id = "GD602"
    name = "globalcidr-route-missing"
    title = "The external host routes the global CIDR through a gateway node"
    severity = Severity.ERROR
    tags = frozenset({"host", "network", "route", "globalnet"})
    explains = frozenset({"GD503", "GD603"})
    host_roles = frozenset({HostRole.EXTERNAL})
    fix = "GD602"

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        host = require_host(ctx)
        cluster_facts = facts_of(ctx)
        ownership = host_facts.ownership(host, cluster_facts, ctx.clusters, ctx.settings)
        # Only an owner known independently of the route can contradict the route.
        owner = ownership.context if ownership.source is not OwnerSource.ROUTE else None
        targets = [(cluster_facts.global_range, cluster_facts.range_probe_address())]
        targets += [(c.cidr, c.probe_address) for c in cluster_facts.global_cidrs]
        routes: dict[str, str] = {}
        grouped: dict[tuple[str, str], list[str]] = {}
        problems: dict[tuple[str, str], RouteProblem] = {}
        for cidr, address in dict.fromkeys(targets):
            lookup = host.lookup(address)
            routes[cidr] = route_taken(lookup)
            problem = judge(host, lookup, cluster_facts, owner)
            if problem is not None:
                # CIDRs whose packets take the same path share one finding.
                matched = lookup.matched.describe() if lookup.matched else ""
                key = (
                    problem.kind,
                    f"{lookup.gateway} {lookup.interface} {lookup.error} {matched}",
                )
                grouped.setdefault(key, []).append(cidr)
                problems.setdefault(key, problem)
        if not grouped:
            return
        covering = [
            r.describe()
            for r in host.routes
            if not r.is_default and overlaps(r.destination, cluster_facts.global_range)
        ]
        for key, found in grouped.items():
            problem = problems[key]
            # The global range first, then by address: the same CIDRs read the same in every
            # run, whichever cluster answered first (or only the broker knew one).
            cidrs = sorted(found, key=lambda c: (c != cluster_facts.global_range, sort_key(c)))
            evidence: dict[str, Any] = {
                "globalRange": cluster_facts.global_range,
                "globalRangeSource": cluster_facts.global_range_source,
                "cidrs": cidrs,
                "kernelRoutes": routes,
                "routesCoveringTheGlobalRange": covering,
                "gatewayNodes": [n.describe() for n in cluster_facts.gateway_nodes],
                "owner": ownership.context,
                "ownedBecause": ownership.reason,
            }
            resources: list[ResourceRef] = []
            if problem.node is not None:
                resources.append(ResourceRef(problem.node.context, "v1", "Node", problem.node.node))
            wrong = problem.kind not in ("no-route", "not-a-node")
            what = "a wrong route" if wrong else "no route through a gateway node"
            yield self.finding(
                f"this machine has {what} to the global CIDR "
                f"{_cidr_text(cidrs, cluster_facts.global_range)}: {problem.summary}",
                resources=resources,
                evidence=evidence,
                remedy=_remedy(host, cluster_facts, ownership.context),
            )
