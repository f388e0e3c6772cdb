"""GD408: the tunnel between two gateways is blocked on the way (status side): a cable stuck
``connecting``, a WireGuard peer without handshake, a libreswan cable up whose pings are lost
while it sends plain ESP, no address to reach the remote gateway, or VXLAN across NAT.

The finding names the exact flows (source, destination, protocol, port) the cable needs. The ESP
inference (F2) is made only when none of the root causes GD402 judges holds on the pair (it
calls GD402's predicates as their client).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.facts import submariner, tunnels
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable

from . import gd402_health_check_ping_failure as health_check


def stuck(cable: tunnels.Cable) -> bool:
    """The cable itself is not up: libreswan ``connecting``, or WireGuard without handshake."""
    return cable.status == "connecting" or cable.wireguard_stuck


def _back(
    remote: ClusterView | None, local_id: str | None, settings: Settings
) -> tunnels.Cable | None:
    """The remote cluster's cable back to this one (from its active Gateway), when readable."""
    if remote is None or local_id is None:
        return None
    try:
        back = tunnels.active_cables(remote, settings)
    except InputUnavailable:
        return None
    return next((c for c in back if c.remote_cluster_id == local_id), None)


class InterClusterTunnelBlocked(Check):
    id = "GD408"
    name = "inter-cluster-tunnel-blocked"
    title = "The network between gateways lets every tunnel's flows through"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "connection", "cluster", "firewall"})
    explains = frozenset({"GD402", "GD403"})
    fix = "GD408"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *gateway_facts.gateway_reads(settings),
            *health_check.root_cause_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        local_id = submariner.cluster_id(view, settings)
        contexts = submariner.contexts_by_cluster_id(ctx.clusters, settings)
        forced_here = tunnels.force_udp_encaps(view, settings)
        for cable in tunnels.active_cables(view, settings):
            remote = tunnels.view_of(cable.remote_cluster_id, ctx.clusters, settings)
            forced = forced_here or tunnels.forced_if_readable(remote, settings)
            back = _back(remote, local_id, settings)
            related = [contexts[cable.remote_cluster_id]] if remote is not None else []
            yield from self._judge(ctx, cable, forced, remote, back, related)

    def _judge(
        self,
        ctx: CheckContext,
        cable: tunnels.Cable,
        forced: bool,
        remote: ClusterView | None,
        back: tunnels.Cable | None,
        related: list[str],
    ) -> Iterable[Finding]:
        view = ctx.cluster
        name = cable.remote_cluster_id
        evidence: dict[str, Any] = {
            "remoteClusterID": name,
            "status": cable.status,
            "statusMessage": cable.message,
            "backend": cable.backend,
            "usingIP": cable.using_ip,
            "usingNAT": cable.using_nat,
            "forceUDPEncaps": forced,
            "flows": tunnels.flows(cable, forced),
        }
        plain_esp = cable.backend == tunnels.LIBRESWAN and not cable.using_nat and not forced

        def finding(message: str, remedy: str, **more: Any) -> Finding:
            return self.finding(
                message,
                resources=[ref(view.name, kinds.GATEWAYS, cable.gateway)],
                evidence={**evidence, **more},
                related_clusters=related,
                remedy=remedy,
            )

        flows = "; ".join(evidence["flows"])
        if cable.backend == tunnels.VXLAN and cable.using_nat:
            yield finding(
                f"the vxlan cable to {name} goes through NAT (usingNAT), which the VXLAN cable "
                "driver does not support",
                "Use the libreswan or wireguard cable driver between clusters behind NAT.",
            )
            return
        nat_without_public = cable.remote.get("nat_enabled") is True and not cable.remote.get(
            "public_ip"
        )
        if nat_without_public or (not cable.using_ip and cable.status != "connected"):
            yield finding(
                f"the cable to {name} has no address to reach the remote gateway "
                + (
                    "(its Endpoint is behind NAT without a public IP: see GD405 there)"
                    if nat_without_public
                    else "(usingIP is empty)"
                ),
                "Make the remote gateway resolve its public IP (GD405 on that cluster).",
            )
            return
        if stuck(cable):
            both = back is not None and (stuck(back) or back.status != "connected")
            side = (
                "blocked both ways (a security group or firewall between the gateways) or the "
                "remote gateway is down"
                if both
                else (
                    f"blocked from this side only ({name}'s cable back is {back.status})"
                    if back is not None
                    else f"{name} is not in the run, so the other direction is unknown"
                )
            )
            yield finding(
                f"the {cable.backend} cable to {name} is stuck ({cable.status}"
                + (f": {cable.message}" if cable.message else "")
                + f"): {side}; it needs {flows}",
                "Open these flows between the gateways in both directions (security groups, "
                "firewalls)"
                + (
                    "; if ESP cannot be allowed, `gdoctor fix GD408 --unsafe` forces UDP "
                    "encapsulation (last resort)"
                    if plain_esp
                    else ""
                )
                + ".",
                **{tunnels.UDP_ENCAPSULATION_HELPS: plain_esp, tunnels.BLOCKED_BOTH_WAYS: both},
            )
            return
        if cable.ping_failure_ip is not None and plain_esp:
            pair = [view] + ([remote] if remote is not None else [])
            known = health_check.known_root_causes(pair, ctx.clusters, ctx.settings)
            if any("problem" in c for c in known):
                return  # a known root cause explains the lost pings (GD402 names it)
            both = back is not None and back.ping_failure_ip is not None
            yield finding(
                f"the libreswan cable to {name} is up (IKE passes over UDP) but its health-check "
                f"pings to {cable.ping_failure_ip} are lost, with plain ESP between the gateways "
                f"and no known root cause: ESP (IP protocol 50) is likely filtered; it needs "
                f"{flows}",
                "Allow ESP between the gateways, or force UDP encapsulation (`gdoctor fix GD408 "
                "--unsafe`, what `subctl join --force-udp-encaps` sets; last resort: smaller MTU, "
                "gateway restarts).",
                **{tunnels.UDP_ENCAPSULATION_HELPS: True, tunnels.BLOCKED_BOTH_WAYS: both},
            )
