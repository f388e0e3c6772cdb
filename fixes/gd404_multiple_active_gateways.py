"""GD404's fix: restart the active gateway pod(s), so one gateway wins the leader election and
its datastore syncer removes the cluster's other Endpoints."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import active_gateway, objects
from globalnet_doctor.facts.submariner import GATEWAY
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step
from globalnet_doctor.view import KubeObject


def _pods_to_restart(ctx: FixContext) -> list[KubeObject]:
    """The gateway pods labelled active, and those on the nodes of the Gateways reporting
    active, in name order."""
    view, settings = ctx.cluster, ctx.settings
    active_nodes = {
        objects.name(g)
        for g in active_gateway.fresh_active_gateways(view, settings, view.observed_at)
    }
    labelled = {objects.name(p) for p in active_gateway.active_pods(view, settings)}
    chosen = [
        pod
        for pod in active_gateway.gateway_pods(view, settings)
        if objects.name(pod) in labelled or active_gateway.pod_node(pod) in active_nodes
    ]
    return sorted(chosen, key=objects.name)


class RestartActiveGateway(Fix):
    id = "GD404"
    title = "restart the active gateway pod(s) so one gateway is elected"
    safety = Safety.DISRUPTIVE
    order = 40

    def plan(self, ctx: FixContext) -> list[Step]:
        return [
            KubeChange(
                ctx.cluster.name,
                kinds.PODS,
                objects.namespace(pod),
                objects.name(pod),
                pod,
                None,
                f"delete so the {GATEWAY} DaemonSet restarts it: it re-runs the leader "
                "election and removes the cluster's other Endpoints",
                irreversible=True,
            )
            for pod in _pods_to_restart(ctx)
        ]

    def awaiting(self, ctx: FixContext) -> str | None:
        if _pods_to_restart(ctx):
            return None  # an active gateway pod still runs: the restart did not happen
        return (
            f"the {GATEWAY} DaemonSet must recreate the deleted pods; the new leader "
            "(Lease submariner-gateway-lock) then refreshes its Gateway, the stale ones expire "
            "and its datastore syncer deletes the cluster's other Endpoints on the broker"
        )
