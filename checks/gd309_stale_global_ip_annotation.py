"""GD309: the gateway's global IP (``submariner.io/globalIp``) and the Endpoint's
``healthCheckIP`` lie inside the cluster's global CIDR.

From 0.18 Globalnet annotates the Gateway, before it annotated the gateway Node. An annotation
left from an older global CIDR survives a re-join: Globalnet handles no Gateway update and only
re-runs allocation when it restarts, and a passive Gateway keeps its annotation by design. The
Endpoint's ``healthCheckIP`` copied from it then names an address no remote gateway can reach
(submariner#1780: "Failed to successfully ping the remote endpoint IP").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network, contains_address
from globalnet_doctor.facts.gateways import is_active
from globalnet_doctor.facts.global_ips import (
    GATEWAY_CARRIES_GLOBAL_IP,
    GLOBAL_IP_ANNOTATION,
    global_ip_annotation,
    leftover_nodes,
    stale_gateway_nodes,
    stale_gateways,
)
from globalnet_doctor.facts.globalnet import require_globalnet
from globalnet_doctor.facts.submariner import (
    GLOBALNET,
    at_least,
    broker_reads,
    broker_view,
    cr_cluster_id,
    submariner_reads,
    submariner_version,
    version_text,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject


def gateway_reads(settings: Settings) -> tuple[Read, ...]:
    return (
        *submariner_reads(settings),
        Read(kinds.GATEWAYS, settings.submariner_namespace),
        Read(kinds.NODES),
        Read(kinds.SUBMARINER_ENDPOINTS, settings.submariner_namespace),
        *broker_reads(settings),
    )


class StaleGlobalIpAnnotation(Check):
    id = "GD309"
    name = "stale-global-ip-annotation"
    title = "The gateway's global IP annotation and health-check IP lie in the global CIDR"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "gateway", "health-check", "cluster"})
    explains = frozenset({"GD402"})
    fix = "GD309"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return gateway_reads(settings)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr, network = require_globalnet(view, settings)
        version = submariner_version(cr)
        restart = (
            f"`gdoctor fix GD309` removes it and restarts the {GLOBALNET} pod on the active "
            "gateway node, which allocates a global IP in the CIDR again"
        )
        if at_least(version, GATEWAY_CARRIES_GLOBAL_IP):
            for gateway in stale_gateways(view, settings, network):
                active = is_active(gateway)
                yield self.finding(
                    f"{'active' if active else 'passive'} Gateway {objects.name(gateway)} is "
                    f"annotated {GLOBAL_IP_ANNOTATION}={global_ip_annotation(gateway)}, outside "
                    f"the global CIDR {network}",
                    severity=Severity.ERROR if active else Severity.WARNING,
                    resources=[ref(view.name, kinds.GATEWAYS, gateway)],
                    evidence={
                        "globalIp": global_ip_annotation(gateway),
                        "globalCIDR": str(network),
                        "haStatus": objects.status(gateway).get("haStatus"),
                        "version": version_text(cr),
                    },
                    remedy="Globalnet handles no Gateway update: only a restart re-allocates it; "
                    + restart
                    + ".",
                )
            leftovers = leftover_nodes(view)
            if leftovers:
                yield self.finding(
                    f"{len(leftovers)} Node(s) still annotated {GLOBAL_IP_ANNOTATION}, which "
                    f"Submariner {version_text(cr)} no longer reads (left from before 0.18)",
                    severity=Severity.INFO,
                    resources=[ref(view.name, kinds.NODES, n) for n in leftovers],
                    evidence={objects.name(n): global_ip_annotation(n) for n in leftovers},
                    remedy=f"Remove it (kubectl annotate node <node> {GLOBAL_IP_ANNOTATION}-); "
                    "`gdoctor fix GD309` does.",
                )
        else:
            for node in stale_gateway_nodes(view, network):
                yield self.finding(
                    f"gateway Node {objects.name(node)} is annotated {GLOBAL_IP_ANNOTATION}="
                    f"{global_ip_annotation(node)}, outside the global CIDR {network}",
                    resources=[ref(view.name, kinds.NODES, node)],
                    evidence={
                        "globalIp": global_ip_annotation(node),
                        "globalCIDR": str(network),
                        "version": version_text(cr),
                    },
                    remedy="Before 0.12.1 it becomes the health-check IP, from 0.12.1 it is "
                    "ignored and the gateway has none; " + restart + ".",
                )
        yield from self._endpoints(ctx, cr_cluster_id(cr), network)

    def _endpoints(
        self, ctx: CheckContext, cluster_id: str | None, network: Network
    ) -> Iterable[Finding]:
        settings = ctx.settings
        copies: list[tuple[ClusterView, KubeObject]] = [
            (ctx.cluster, e)
            for e in ctx.cluster.list(kinds.SUBMARINER_ENDPOINTS, settings.submariner_namespace)
        ]
        broker = broker_view(ctx.clusters, settings)
        if broker is not None and broker.reachable and cluster_id is not None:
            copies += [
                (broker, e)
                for e in broker.list(kinds.SUBMARINER_ENDPOINTS, settings.broker_namespace)
            ]
        seen: set[tuple[str, str, str]] = set()
        for holder, endpoint in copies:
            spec = objects.spec(endpoint)
            if cluster_id is None or spec.get("cluster_id") != cluster_id:
                continue
            key = (holder.name, objects.namespace(endpoint), objects.name(endpoint))
            if key in seen:
                continue
            seen.add(key)
            health = str(spec.get("healthCheckIP") or "")
            subnets = [str(s) for s in spec.get("subnets") or []] or [str(network)]
            if not health or contains_address(subnets, health):
                continue
            where = "broker" if holder is not ctx.cluster else "local"
            yield self.finding(
                f"{where} Endpoint {objects.name(endpoint)} (in {holder.name}) has healthCheckIP "
                f"{health}, outside its subnets {', '.join(subnets)}: remote gateways ping an "
                "address that does not route and report `Failed to successfully ping the remote "
                "endpoint IP`",
                resources=[ref(holder.name, kinds.SUBMARINER_ENDPOINTS, endpoint)],
                evidence={"healthCheckIP": health, "subnets": subnets},
                remedy="The gateway publishes the global IP Globalnet gave it: fix the stale "
                "annotation first (`gdoctor fix GD309`); the gateway then re-publishes its "
                "Endpoint.",
                related_clusters=[holder.name] if holder is not ctx.cluster else [],
            )
