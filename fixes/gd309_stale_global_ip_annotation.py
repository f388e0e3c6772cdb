"""GD309's fix: drop the stale ``submariner.io/globalIp`` and restart Globalnet on the active
gateway node.

Globalnet handles no Gateway update (its Gateway syncer calls every update equivalent): only a
restart re-runs the allocation that annotates the gateway with a global IP in the CIDR. So the
stale annotation is removed from the Gateway (0.18 and later) or the gateway Node (before), then
the globalnet pod on the active gateway's node is deleted (its DaemonSet recreates it;
irreversible). Nodes still annotated from before 0.18 lose the annotation too: nothing reads it
there, so that part is safe on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.gateways import is_active
from globalnet_doctor.facts.global_ips import (
    GATEWAY_CARRIES_GLOBAL_IP,
    GLOBAL_IP_ANNOTATION,
    global_ip_annotation,
    globalnet_pod_read,
    globalnet_pods_on,
    inside,
    leftover_nodes,
    stale_gateway_nodes,
    stale_gateways,
)
from globalnet_doctor.facts.globalnet import require_globalnet
from globalnet_doctor.facts.submariner import GLOBALNET, at_least, submariner_version
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.view import KubeObject


def _without_annotation(cluster: str, kind: Kind, obj: KubeObject, why: str) -> KubeChange:
    after = updated(obj)
    annotations = dict(objects.annotations_of(obj))
    annotations.pop(GLOBAL_IP_ANNOTATION, None)
    after["metadata"]["annotations"] = annotations
    namespace = objects.namespace(obj) or None
    return KubeChange(cluster, kind, namespace, objects.name(obj), obj, after, why)


class ClearStaleGlobalIp(Fix):
    id = "GD309"
    title = f"remove the stale {GLOBAL_IP_ANNOTATION} and restart Globalnet on the gateway"
    safety = Safety.DISRUPTIVE
    order = 40

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (globalnet_pod_read(settings),)

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        cr, network = require_globalnet(view, settings)
        on_gateway = at_least(submariner_version(cr), GATEWAY_CARRIES_GLOBAL_IP)
        steps: list[Step] = []
        restart: list[str] = []
        if on_gateway:
            for gateway in stale_gateways(view, settings, network):
                steps.append(
                    _without_annotation(
                        view.name,
                        kinds.GATEWAYS,
                        gateway,
                        f"remove {GLOBAL_IP_ANNOTATION}={global_ip_annotation(gateway)} (outside "
                        f"{network})",
                    )
                )
                if is_active(gateway):
                    restart.append(objects.name(gateway))
            for node in leftover_nodes(view):
                steps.append(
                    _without_annotation(
                        view.name,
                        kinds.NODES,
                        node,
                        f"remove the leftover {GLOBAL_IP_ANNOTATION} (unused since 0.18; safe)",
                    )
                )
        else:
            active = {
                objects.name(g)
                for g in view.list(kinds.GATEWAYS, settings.submariner_namespace)
                if is_active(g)
            }
            for node in stale_gateway_nodes(view, network):
                steps.append(
                    _without_annotation(
                        view.name,
                        kinds.NODES,
                        node,
                        f"remove {GLOBAL_IP_ANNOTATION}={global_ip_annotation(node)} (outside "
                        f"{network})",
                    )
                )
                if objects.name(node) in active or not active:
                    restart.append(objects.name(node))
        for node_name in restart:
            for pod in globalnet_pods_on(view, settings, node_name):
                steps.append(
                    KubeChange(
                        view.name,
                        kinds.PODS,
                        objects.namespace(pod),
                        objects.name(pod),
                        pod,
                        None,
                        f"restart {GLOBALNET} on {node_name}: only a restart re-allocates the "
                        "gateway's global IP (the DaemonSet recreates the pod)",
                        irreversible=True,
                    )
                )
        return steps

    def _pending(self, ctx: FixContext) -> str | None:
        view, settings = ctx.cluster, ctx.settings
        cr, network = require_globalnet(view, settings)
        if not at_least(submariner_version(cr), GATEWAY_CARRIES_GLOBAL_IP):
            return None
        for gateway in view.list(kinds.GATEWAYS, settings.submariner_namespace):
            ip = global_ip_annotation(gateway)
            if is_active(gateway) and (ip is None or not inside(ip, network)):
                return (
                    f"{GLOBALNET} must annotate the active Gateway {objects.name(gateway)} with "
                    f"a global IP in {network}, and submariner-gateway publish it as its "
                    "Endpoint's healthCheckIP"
                )
        return None

    def awaiting(self, ctx: FixContext) -> str | None:
        return self._pending(ctx)

    def reconciling(self, ctx: FixContext) -> str | None:
        return self._pending(ctx)
