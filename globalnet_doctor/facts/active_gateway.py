"""Which gateway of a cluster is active: the Gateway objects' HA status and freshness, the
gateway pods' ``gateway.submariner.io/status`` label, and the cluster's Endpoints on the broker
(GD404 and its fix).

Names follow submariner: the gateway engine labels its pod ``gateway.submariner.io/status``
(``active``/``passive``) and ``gateway.submariner.io/node`` (``pkg/pod/pod.go``); a Gateway is
named after the node's hostname and stale after 15 s without an ``update-timestamp``
(``cableengine/syncer``); the broker holds one Endpoint per cluster and cable
(``<cluster>-<cable_name>``, ``datastoresyncer.ensureExclusiveEndpoint`` deletes the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.gateways import STALE_AFTER_SECONDS, age_seconds, gateways, is_active
from globalnet_doctor.facts.submariner import GATEWAY, broker_view, cr_cluster_id
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

GATEWAY_POD_SELECTOR = f"app={GATEWAY}"
STATUS_LABEL = "gateway.submariner.io/status"
NODE_LABEL = "gateway.submariner.io/node"


def gateway_pod_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.PODS, settings.submariner_namespace, label_selector=GATEWAY_POD_SELECTOR),)


def gateway_pods(view: ClusterView, settings: Settings) -> list[KubeObject]:
    """The gateway pods not being deleted."""
    listed = view.list(kinds.PODS, settings.submariner_namespace, GATEWAY_POD_SELECTOR)
    return [p for p in listed if not objects.metadata(p).get("deletionTimestamp")]


def pod_node(pod: KubeObject) -> str:
    return str(objects.spec(pod).get("nodeName") or objects.labels(pod).get(NODE_LABEL) or "")


def active_pods(view: ClusterView, settings: Settings) -> list[KubeObject]:
    return [
        p for p in gateway_pods(view, settings) if objects.labels(p).get(STATUS_LABEL) == "active"
    ]


def fresh_active_gateways(
    view: ClusterView, settings: Settings, observed_at: datetime
) -> list[KubeObject]:
    """Gateways reporting ``haStatus: active`` whose ``update-timestamp`` is at most 15 s old."""
    found = []
    for gateway in gateways(view, settings):
        age = age_seconds(gateway, observed_at)
        if is_active(gateway) and age is not None and age <= STALE_AFTER_SECONDS:
            found.append(gateway)
    return found


def local_cable_name(gateway: KubeObject) -> str:
    endpoint = objects.status(gateway).get("localEndpoint") or {}
    return str(endpoint.get("cable_name") or "")


def cluster_endpoints(
    broker: ClusterView, settings: Settings, cluster_id: str
) -> Sequence[KubeObject]:
    """The broker's Endpoints of one cluster, by ``spec.cluster_id`` (indexed once per view)."""

    def index() -> dict[str, list[KubeObject]]:
        grouped: dict[str, list[KubeObject]] = {}
        for endpoint in broker.list(kinds.SUBMARINER_ENDPOINTS, settings.broker_namespace):
            owner = str(objects.spec(endpoint).get("cluster_id") or "")
            grouped.setdefault(owner, []).append(endpoint)
        return grouped

    return broker.derived(("endpoints-by-cluster", settings.broker_namespace), index).get(
        cluster_id, []
    )


def own_broker_endpoints(
    clusters: Sequence[ClusterView], settings: Settings, cr: KubeObject
) -> Sequence[KubeObject] | None:
    """The broker's Endpoints of the cluster whose Submariner CR is ``cr``; None when the broker
    or its Endpoints cannot be read."""
    broker = broker_view(clusters, settings)
    cluster_id = cr_cluster_id(cr)
    if broker is None or not broker.reachable or cluster_id is None:
        return None
    try:
        return cluster_endpoints(broker, settings, cluster_id)
    except InputUnavailable:
        return None
