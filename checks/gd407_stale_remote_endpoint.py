"""GD407: the broker still holds an Endpoint of another cluster that no longer exists, or of an
old cable of a cluster that is still there; every gateway keeps trying to connect to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.facts import objects, submariner, tunnels
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject, NotApplicable


def live_cable_names(view: ClusterView, settings: Settings) -> set[str] | None:
    """The cable names the cluster's fresh Gateways announce; None when they cannot be read."""
    try:
        found = gateway_facts.gateways(view, settings)
    except InputUnavailable:
        return None
    names = set()
    for gateway in found:
        age = gateway_facts.age_seconds(gateway, view.observed_at)
        if age is not None and age > gateway_facts.STALE_AFTER_SECONDS:
            continue
        local = objects.status(gateway).get("localEndpoint") or {}
        if local.get("cable_name"):
            names.add(str(local["cable_name"]))
    return names


class StaleRemoteEndpoint(Check):
    id = "GD407"
    name = "stale-remote-endpoint"
    title = "The broker holds no Endpoint of a vanished cluster or of an old cable"
    severity = Severity.WARNING
    tags = frozenset({"gateway", "broker", "cluster"})
    explains = frozenset({"GD403"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *submariner.broker_reads(settings),
            *gateway_facts.gateway_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        broker = submariner.broker_view(ctx.clusters, settings)
        if broker is None:
            raise NotApplicable("no broker among the clusters read (--broker-context)")
        local_id = submariner.cluster_id(view, settings)
        known = submariner.broker_clusters(broker, settings)
        contexts = submariner.contexts_by_cluster_id(ctx.clusters, settings)
        connections = {c.remote_cluster_id: c for c in tunnels.active_cables(view, settings)}
        endpoints = broker.list(kinds.SUBMARINER_ENDPOINTS, settings.broker_namespace)
        for endpoint in sorted(endpoints, key=objects.name):
            spec = objects.spec(endpoint)
            cluster_id = str(spec.get("cluster_id") or "")
            if not cluster_id or cluster_id == local_id:
                continue
            reason = self._stale(ctx, spec, cluster_id, known, contexts, connections)
            if reason is None:
                continue
            yield self.finding(
                f"broker Endpoint {objects.name(endpoint)} of {cluster_id} looks stale: {reason}",
                resources=[ref(broker.name, kinds.SUBMARINER_ENDPOINTS, endpoint)],
                evidence=_evidence(endpoint, connections.get(cluster_id)),
                related_clusters=[broker.name]
                + ([contexts[cluster_id]] if cluster_id in contexts else []),
                remedy=(
                    f"If {cluster_id} is gone, run `subctl uninstall` there or delete its "
                    f"Endpoint and Cluster in the broker namespace {settings.broker_namespace} "
                    "(and its submariner-globalnet-info entry); an old cable's Endpoint can be "
                    "deleted once the cluster's live gateway announces another. gdoctor does not "
                    "delete shared broker state."
                ),
            )

    def _stale(
        self,
        ctx: CheckContext,
        spec: Any,
        cluster_id: str,
        known: dict[str, submariner.ClusterNetworks],
        contexts: dict[str, str],
        connections: dict[str, tunnels.Cable],
    ) -> str | None:
        if cluster_id not in known:
            return f"the broker has no Cluster {cluster_id}"
        cable = str(spec.get("cable_name") or "")
        context = contexts.get(cluster_id)
        if context is not None:
            remote = next(v for v in ctx.clusters if v.name == context)
            live = live_cable_names(remote, ctx.settings) if remote.reachable else None
            if live is not None and cable not in live:
                return (
                    f"no fresh Gateway of {cluster_id} ({context}) announces its cable "
                    f"{cable or '(none)'} (an old cable: the gateway moved or its IP changed)"
                )
            return None
        connection = connections.get(cluster_id)
        if connection is not None and connection.status != "connected":
            return (
                f"{cluster_id} is not in the run and this cluster's connection to it is "
                f"{connection.status} (cannot be verified)"
            )
        return None


def _evidence(endpoint: KubeObject, connection: tunnels.Cable | None) -> dict[str, Any]:
    spec = objects.spec(endpoint)
    return {
        "endpoint": objects.name(endpoint),
        "clusterID": spec.get("cluster_id"),
        "cableName": spec.get("cable_name"),
        "hostname": spec.get("hostname"),
        "privateIP": spec.get("private_ip"),
        "publicIP": spec.get("public_ip"),
        "connectionFromHere": connection.status if connection is not None else None,
    }
