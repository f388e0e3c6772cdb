"""Every global CIDR a cluster routes to (its own and the broker's other clusters'), and the
address ranges Submariner itself reserves on the nodes (GD312).

VTEP ranges: the route agent's intra-cluster ``vx-submariner`` uses ``240.0.0.0/8``
(``routeagent_driver/handlers/kubeproxy/constants.go VxLANVTepNetworkPrefix = 240``; not on
OVN-Kubernetes, whose handler builds no VXLAN); the VXLAN cable driver uses ``241.0.0.0/8``
(``cable/vxlan/vxlan.go VxlanVTepNetworkPrefix = 241``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.cidrs import Network, parse_network
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

INTRA_CLUSTER_VTEPS = "240.0.0.0/8"
VXLAN_CABLE_VTEPS = "241.0.0.0/8"
VXLAN_BACKEND = "vxlan"
OVN_KUBERNETES = "OVNKubernetes"


@dataclass(frozen=True, slots=True)
class GlobalRange:
    cidr: str
    network: Network
    owner: str
    """The clusterID that owns it (this cluster's own, or a remote one's from the broker)."""
    local: bool


def global_ranges(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings, cr: KubeObject
) -> list[GlobalRange]:
    """The cluster's own global CIDR(s) then every other cluster's from the broker, deduplicated,
    in that order. Broker data that cannot be read adds nothing."""
    own_id = submariner.cr_cluster_id(cr) or view.name
    found: dict[str, GlobalRange] = {}
    for cidr in submariner.submariner_field(cr, "globalCIDR"):
        network = parse_network(cidr)
        if network is not None:
            found.setdefault(str(network), GlobalRange(cidr, network, own_id, True))
    broker = submariner.broker_view(clusters, settings)
    if broker is not None and broker.reachable:
        try:
            networks = submariner.broker_clusters(broker, settings)
        except InputUnavailable:
            networks = {}
        for cluster_id, cluster in sorted(networks.items()):
            if cluster_id == own_id:
                continue
            for cidr in cluster.global_cidrs:
                network = parse_network(cidr)
                if network is not None:
                    found.setdefault(str(network), GlobalRange(cidr, network, cluster_id, False))
    return list(found.values())


def uses_vxlan_cable(cr: KubeObject, endpoints: Sequence[KubeObject]) -> bool:
    """Whether this cluster's cable driver, or any Endpoint's backend, is VXLAN."""
    if str(objects.spec(cr).get("cableDriver") or "") == VXLAN_BACKEND:
        return True
    return any(str(objects.spec(e).get("backend") or "") == VXLAN_BACKEND for e in endpoints)


def network_plugin(cr: KubeObject) -> str:
    return str(
        objects.status(cr).get("networkPlugin") or objects.spec(cr).get("networkPlugin") or ""
    )
