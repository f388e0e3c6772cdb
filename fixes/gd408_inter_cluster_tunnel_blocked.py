"""GD408's last-resort fix: force UDP encapsulation of IPsec (``spec.ceIPSecForceUDPEncaps:
true`` on the Submariner CR, what ``subctl join --force-udp-encaps`` sets), so the tunnel runs as
ESP-in-UDP on the NAT-T port where plain ESP is filtered.

The plan sets this cluster's CR and, where the remote cluster's own connection back is fine
(blocked one way: it has no GD408 finding of its own to fix), the remote cluster's CR too.
"""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects, submariner, tunnels
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated
from globalnet_doctor.view import ClusterView, InputUnavailable


def _force(view: ClusterView, ctx: FixContext, why: str) -> KubeChange | None:
    try:
        cr = submariner.submariner_cr(view, ctx.settings)
    except InputUnavailable:
        return None
    if cr is None or objects.spec(cr).get(tunnels.FORCE_UDP_ENCAPS) is True:
        return None
    metadata = cr["metadata"]
    return KubeChange(
        view.name,
        kinds.SUBMARINERS,
        metadata["namespace"],
        metadata["name"],
        cr,
        updated(cr, spec={**objects.spec(cr), tunnels.FORCE_UDP_ENCAPS: True}),
        f"spec.{tunnels.FORCE_UDP_ENCAPS}: true ({why}; the operator restarts the gateway "
        "pods, the tunnels' MTU shrinks)",
    )


class ForceUdpEncapsulation(Fix):
    id = "GD408"
    title = "force UDP encapsulation of the IPsec tunnels (ESP-in-UDP) on the Submariner CR"
    safety = Safety.UNSAFE
    last_resort = True
    order = 90

    def plan(self, ctx: FixContext) -> list[Step]:
        wanted = [
            f.evidence
            for f in ctx.result.findings
            if f.evidence.get(tunnels.UDP_ENCAPSULATION_HELPS)
        ]
        if not wanted:
            return []
        steps: list[Step] = []
        own = _force(ctx.cluster, ctx, "plain ESP to the remote gateways is blocked")
        if own is not None:
            steps.append(own)
        remotes = sorted(
            {str(e["remoteClusterID"]) for e in wanted if not e.get(tunnels.BLOCKED_BOTH_WAYS)}
        )
        for remote_id in remotes:
            remote = tunnels.view_of(remote_id, ctx.clusters, ctx.settings)
            if remote is None or remote.name == ctx.cluster.name:
                continue
            change = _force(remote, ctx, f"the other end of the tunnel from {ctx.cluster.name}")
            if change is not None:
                steps.append(change)
        return steps

    def awaiting(self, ctx: FixContext) -> str | None:
        return self._restart_pending(ctx)

    def reconciling(self, ctx: FixContext) -> str | None:
        """The check judges the configuration, which is right at once; the Gateway still shows
        the old cables until the operator has restarted the gateway pods."""
        return self._restart_pending(ctx)

    def _restart_pending(self, ctx: FixContext) -> str | None:
        cr = submariner.submariner_cr(ctx.cluster, ctx.settings)
        if objects.spec(cr).get(tunnels.FORCE_UDP_ENCAPS) is not True:
            return None
        down = [
            c.remote_cluster_id
            for c in tunnels.active_cables(ctx.cluster, ctx.settings)
            if c.status != "connected"
        ]
        if not down:
            return None
        return (
            "the Submariner operator must restart the gateway pods with CE_IPSEC_FORCEENCAPS; "
            f"then the Gateway's connections to {', '.join(sorted(down))} change"
        )
