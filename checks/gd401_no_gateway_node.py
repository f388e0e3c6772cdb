"""GD401: no node is labelled as a Submariner gateway, so no gateway ever runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import submariner
from globalnet_doctor.facts.gateways import GATEWAY_LABEL, gateway_nodes
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref

_SHOWN_NODES = 10


class NoGatewayNode(Check):
    id = "GD401"
    name = "no-gateway-node"
    title = "At least one node is labelled submariner.io/gateway=true"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "cluster"})
    explains = frozenset({"GD001", "GD402", "GD403", "GD503", "GD603"})
    fix = "GD401"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (Read(kinds.NODES), *submariner.submariner_reads(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view = ctx.cluster
        nodes = view.list(kinds.NODES)
        if gateway_nodes(view):
            return
        names = sorted(node["metadata"]["name"] for node in nodes)
        if len(names) == 1:
            how = (
                f"This is a single-node cluster, so no worker is picked: label its only node "
                f"(kubectl label node {names[0]} {GATEWAY_LABEL}=true)."
            )
        else:
            how = (
                f"Label the node that should carry the tunnels "
                f"(kubectl label node <node> {GATEWAY_LABEL}=true; gdoctor fix GD401 --node N)."
            )
        yield self.finding(
            f"no node is labelled {GATEWAY_LABEL}=true, so no Submariner gateway runs",
            resources=[ref(view.name, kinds.NODES, node) for node in nodes[:_SHOWN_NODES]],
            evidence={"nodeCount": len(names), "nodes": names[:_SHOWN_NODES]},
            remedy=how,
        )
