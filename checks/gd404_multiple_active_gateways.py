"""GD404: more than one gateway of a cluster acts as the active one (split brain), or the broker
holds several Endpoints of the cluster, so remote gateways may dial the wrong one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import active_gateway, objects, submariner
from globalnet_doctor.facts.gateways import STALE_AFTER_SECONDS, gateway_reads
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import InputUnavailable

_REMEDY = (
    "Restart the gateway pod on the active Gateway's node (gdoctor fix GD404, or kubectl -n {ns} "
    "delete pod -l app=submariner-gateway --field-selector spec.nodeName=<node>): it re-acquires "
    "the submariner-gateway-lock Lease, and the leader's datastore syncer deletes the cluster's "
    "other Endpoints (ensureExclusiveEndpoint), which the broker syncer propagates."
)


class MultipleActiveGateways(Check):
    id = "GD404"
    name = "multiple-active-gateways"
    title = "One gateway per cluster is active, and the broker holds one Endpoint of it"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "cluster"})
    explains = frozenset({"GD402", "GD403"})
    fix = "GD404"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *gateway_reads(settings),
            *active_gateway.gateway_pod_reads(settings),
            *submariner.broker_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr = require_submariner(view, settings)
        remedy = _REMEDY.format(ns=settings.submariner_namespace)
        active = active_gateway.fresh_active_gateways(view, settings, view.observed_at)
        if len(active) > 1:
            names = sorted(objects.name(g) for g in active)
            yield self.finding(
                f"{len(active)} Gateways report haStatus active with an update-timestamp under "
                f"{STALE_AFTER_SECONDS} s old ({', '.join(names)}): both program tunnels",
                resources=[ref(view.name, kinds.GATEWAYS, g) for g in active],
                evidence={"activeGateways": names},
                remedy=remedy,
            )
        pods = active_gateway.active_pods(view, settings)
        if len(pods) > 1:
            nodes = sorted(active_gateway.pod_node(p) for p in pods)
            yield self.finding(
                f"Expected one Gateway pod to be labeled as active. Found {len(pods)} on nodes "
                f"{', '.join(nodes)}",
                resources=[ref(view.name, kinds.PODS, p) for p in pods],
                evidence={
                    "activePods": sorted(objects.name(p) for p in pods),
                    "nodes": nodes,
                },
                remedy=remedy,
                severity=Severity.WARNING,
            )
        cables = {active_gateway.local_cable_name(g) for g in active} - {""}
        yield from self._broker_endpoints(ctx, submariner.cr_cluster_id(cr), cables, remedy)

    def _broker_endpoints(
        self,
        ctx: CheckContext,
        cluster_id: str | None,
        cables: set[str],
        remedy: str,
    ) -> Iterable[Finding]:
        settings = ctx.settings
        broker = submariner.broker_view(ctx.clusters, settings)
        if cluster_id is None or broker is None or not broker.reachable:
            return
        try:
            endpoints = active_gateway.cluster_endpoints(broker, settings, cluster_id)
        except InputUnavailable:
            return  # the broker's Endpoints add a finding; without them the rest still holds
        if len(endpoints) < 2:
            return
        names = sorted(objects.name(e) for e in endpoints)
        stale = sorted(
            objects.name(e)
            for e in endpoints
            if cables and str(objects.spec(e).get("cable_name") or "") not in cables
        )
        yield self.finding(
            f"the broker holds {len(endpoints)} Endpoints of cluster {cluster_id} "
            f"({', '.join(names)}): remote gateways may dial a stale one",
            resources=[ref(broker.name, kinds.SUBMARINER_ENDPOINTS, e) for e in endpoints],
            evidence={
                "clusterID": cluster_id,
                "endpoints": names,
                "stale": stale,
                "activeCables": sorted(cables),
                "broker": broker.name,
            },
            remedy=remedy,
        )
