"""GD405's fix: name the gateway node's public IP with an annotation, so no resolver is needed."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import active_gateway, objects, public_ip, submariner
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated


def _unresolved(ctx: FixContext) -> list[public_ip.Unresolved]:
    view, settings = ctx.cluster, ctx.settings
    cr = submariner.submariner_cr(view, settings)
    if cr is None:
        return []
    endpoints = active_gateway.own_broker_endpoints(ctx.clusters, settings, cr)
    return public_ip.unresolved_gateways(view, settings, cr, endpoints or ())


class AnnotatePublicIp(Fix):
    id = "GD405"
    title = "annotate the gateway node gateway.submariner.io/public-ip=ipv4:<IP>"
    safety = Safety.SAFE
    order = 30

    def plan(self, ctx: FixContext) -> list[Step]:
        cr = submariner.submariner_cr(ctx.cluster, ctx.settings)
        steps: list[Step] = []
        for found in _unresolved(ctx):
            if found.node is None or cr is None:
                raise PlanError(f"node {found.node_name} of {objects.name(found.pod)} not found")
            address = public_ip.planned_public_ip(found.node, cr)
            if address is None:
                raise PlanError(
                    f"node {found.node_name} has no ExternalIP and NAT traversal is on: name its "
                    f"public IP yourself (kubectl annotate node {found.node_name} "
                    f"{public_ip.PUBLIC_IP}=ipv4:<IP>)"
                )
            after = updated(found.node)
            after["metadata"]["annotations"] = {
                **objects.annotations_of(found.node),
                public_ip.PUBLIC_IP: f"ipv4:{address}",
            }
            steps.append(
                KubeChange(
                    ctx.cluster.name,
                    kinds.NODES,
                    None,
                    found.node_name,
                    found.node,
                    after,
                    f"annotate {public_ip.PUBLIC_IP}=ipv4:{address}",
                )
            )
        return steps

    def reconciling(self, ctx: FixContext) -> str | None:
        crashing = [
            objects.name(p)
            for p in active_gateway.gateway_pods(ctx.cluster, ctx.settings)
            if public_ip.crash_looping(p) is not None
        ]
        if not crashing:
            return None
        return (
            f"the kubelet must restart the crash-looping gateway container ({', '.join(crashing)}"
            "; back-off up to 5 min): it reads the annotation on its next start"
        )
