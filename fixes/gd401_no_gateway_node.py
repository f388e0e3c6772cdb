"""GD401's fix: label a node as the Submariner gateway."""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.gateways import GATEWAY_LABEL, is_gateway
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated
from globalnet_doctor.kinds import Read


class LabelGatewayNode(Fix):
    id = "GD401"
    title = "label a node submariner.io/gateway=true"
    safety = Safety.SAFE
    order = 20

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (Read(kinds.NODES),)

    def plan(self, ctx: FixContext) -> list[Step]:
        nodes = list(ctx.cluster.list(kinds.NODES))
        names = sorted(n["metadata"]["name"] for n in nodes)
        if ctx.options.node is not None:
            chosen = next((n for n in nodes if n["metadata"]["name"] == ctx.options.node), None)
            if chosen is None:
                raise PlanError(
                    f"no node {ctx.options.node} in {ctx.cluster.name} (nodes: {', '.join(names)})"
                )
        elif len(nodes) == 1:
            chosen = nodes[0]
        else:
            raise PlanError(
                f"{ctx.cluster.name} has {len(nodes)} nodes; name the gateway "
                f"with --node (one of {', '.join(names)})"
            )
        if is_gateway(chosen):
            return []
        labels = dict(objects.labels(chosen))
        labels[GATEWAY_LABEL] = "true"
        after = updated(chosen)
        after["metadata"]["labels"] = labels
        return [
            KubeChange(
                ctx.cluster.name,
                kinds.NODES,
                None,
                chosen["metadata"]["name"],
                chosen,
                after,
                f"label {GATEWAY_LABEL}=true",
            )
        ]
