"""GD403: a remote cluster without an established connection, or a gateway that stopped reporting.

Health-check ping failures are GD402's; this check covers everything else that keeps a tunnel
down: no connection at all, ``connecting``, other errors, a stale Gateway, no active gateway.
With several active Gateways (GD404's finding) the connections of each fresh one are judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.facts import objects, submariner, tunnels
from globalnet_doctor.facts.gateways import gateway_nodes
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import KubeObject


def remote_endpoints(ctx: CheckContext, local_id: str | None) -> dict[str, str]:
    """Remote clusterID -> the Endpoint's name, from the broker (empty without a broker)."""
    broker = submariner.broker_view(ctx.clusters, ctx.settings)
    if broker is None:
        return {}
    found: dict[str, str] = {}
    for endpoint in broker.list(kinds.SUBMARINER_ENDPOINTS, ctx.settings.broker_namespace):
        cluster_id = str(objects.spec(endpoint).get("cluster_id") or "")
        if cluster_id and cluster_id != local_id:
            found.setdefault(cluster_id, endpoint["metadata"]["name"])
    return found


def _stale(gateway: KubeObject, observed_at: datetime) -> bool:
    age = gateway_facts.age_seconds(gateway, observed_at)
    return age is not None and age > gateway_facts.STALE_AFTER_SECONDS


class ConnectionNotEstablished(Check):
    id = "GD403"
    name = "connection-not-established"
    title = "Every remote cluster has an established connection through a fresh, active gateway"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "connection", "cluster"})
    explains = frozenset({"GD402", "GD503", "GD603"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *submariner.broker_reads(settings),
            *gateway_facts.gateway_reads(settings),
            Read(kinds.NODES),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        local_id = submariner.cluster_id(view, settings)
        contexts = submariner.contexts_by_cluster_id(ctx.clusters, settings)
        gateways = gateway_facts.gateways(view, settings)
        for gateway in gateways:
            yield from self._staleness(ctx, gateway)
        active = [g for g in gateways if gateway_facts.is_active(g)]
        if not active:
            if gateway_nodes(view):  # without a labelled node GD401 already explains it
                yield self.finding(
                    "no active Submariner gateway although gateway nodes are labelled",
                    resources=[ref(view.name, kinds.GATEWAYS, g) for g in gateways],
                    evidence={
                        "gateways": {
                            g["metadata"]["name"]: objects.status(g).get("haStatus")
                            for g in gateways
                        }
                    },
                    remedy="Look at the submariner-gateway pods (kubectl -n "
                    f"{settings.submariner_namespace} logs -l app=submariner-gateway).",
                )
            return
        # Several active Gateways are GD404's finding; the connections of each fresh one are
        # judged here (a stale one's connections are old news, its staleness is reported).
        fresh = [g for g in active if not _stale(g, view.observed_at)]
        judged = fresh or active
        for gateway in judged:
            prefix = f"Gateway {gateway['metadata']['name']}: " if len(judged) > 1 else ""
            yield from self._connections(ctx, gateway, local_id, contexts, prefix)

    def _connections(
        self,
        ctx: CheckContext,
        gateway: KubeObject,
        local_id: str | None,
        contexts: dict[str, str],
        prefix: str,
    ) -> Iterable[Finding]:
        view = ctx.cluster
        by_remote = {c.remote_cluster_id: c for c in tunnels.cables(gateway)}
        for cluster_id, endpoint_name in sorted(remote_endpoints(ctx, local_id).items()):
            if cluster_id not in by_remote:
                yield self.finding(
                    f"{prefix}no connection to remote cluster {cluster_id} although the broker "
                    f"holds its "
                    f"Endpoint {endpoint_name}",
                    resources=[ref(view.name, kinds.GATEWAYS, gateway)],
                    evidence={
                        "remoteClusterID": cluster_id,
                        "endpoint": endpoint_name,
                        "connections": sorted(by_remote),
                    },
                    related_clusters=[contexts[cluster_id]] if cluster_id in contexts else [],
                    remedy="Check that both gateways reach each other on UDP 4500 (and 4490 "
                    "for NAT discovery), then read the gateway logs on both sides.",
                )
        for connection in by_remote.values():
            if connection.status == "connected" or connection.ping_failure_ip is not None:
                continue
            remote = connection.remote_cluster_id
            using = connection.using_ip or "no address"
            yield self.finding(
                f"{prefix}connection to {remote} is {connection.status} (using {using}"
                + (", NAT)" if connection.using_nat else ")")
                + (f": {connection.message}" if connection.message else ""),
                resources=[ref(view.name, kinds.GATEWAYS, gateway)],
                evidence={
                    "remoteClusterID": remote,
                    "status": connection.status,
                    "statusMessage": connection.message,
                    "usingIP": connection.using_ip,
                    "usingNAT": connection.using_nat,
                },
                related_clusters=[contexts[remote]] if remote in contexts else [],
                remedy="Check the firewall between the gateways (UDP 4500/4490, ESP) and the "
                "cable driver's logs on both gateways.",
            )

    def _staleness(self, ctx: CheckContext, gateway: KubeObject) -> Iterable[Finding]:
        view = ctx.cluster
        age = gateway_facts.age_seconds(gateway, view.observed_at)
        failure = objects.status(gateway).get("statusFailure")
        name = gateway["metadata"]["name"]
        if age is not None and age > gateway_facts.STALE_AFTER_SECONDS:
            yield self.finding(
                f"Gateway {name} has not reported for {int(age)} s (stale after "
                f"{gateway_facts.STALE_AFTER_SECONDS} s): its gateway pod is not updating it",
                resources=[ref(view.name, kinds.GATEWAYS, gateway)],
                evidence={
                    gateway_facts.UPDATE_TIMESTAMP: gateway["metadata"]["annotations"][
                        gateway_facts.UPDATE_TIMESTAMP
                    ],
                    "observedAt": view.observed_at.isoformat(),
                    "ageSeconds": int(age),
                },
                remedy=f"Check the gateway pod on node {name} (it may be crashing or gone).",
            )
        if failure:
            yield self.finding(
                f"Gateway {name} reports a failure: {failure}",
                resources=[ref(view.name, kinds.GATEWAYS, gateway)],
                evidence={"statusFailure": failure},
                remedy=f"Read the gateway pod's log on node {name}.",
            )
