"""Globalnet's global IPs beyond ingress: the pool, the cluster egress IPs, the Gateway and Node
``submariner.io/globalIp`` annotations, and the broker's ``submariner-globalnet-info`` ledger.

Shared by GD307-GD310 and their fixes. Upstream sources (read, not run):
``submariner:pkg/globalnet/controllers/cluster_egressip_controller.go`` (the well-known
ClusterGlobalEgressIP, its conditions), ``admiral:pkg/ipam/ippool.go`` (pool size and
allocation), ``submariner-operator:pkg/discovery/globalnet/config_map.go`` (the ConfigMap's keys
and its ``clusterinfo`` JSON, written with ``json.MarshalIndent(info, "", "\\t")``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network, parse_network
from globalnet_doctor.facts.gateways import is_gateway
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

GLOBAL_IP_ANNOTATION = "submariner.io/globalIp"
"""The global IP Globalnet gives the gateway: on the Gateway from 0.18, on the Node before."""
GATEWAY_CARRIES_GLOBAL_IP = (0, 18)
"""submariner commit 803f804b: Globalnet annotates the local Gateway, no longer the Node."""
CLUSTER_EGRESS_NAME = "cluster-egress.submariner.io"
"""``constants.ClusterGlobalEgressIPName``: the only ClusterGlobalEgressIP Globalnet honours."""
DEFAULT_CLUSTER_EGRESS_IPS = 8
"""``DefaultNumberOfClusterEgressIPs``: what Globalnet creates the default instance with."""
NUM_GLOBAL_IPS_MIN, NUM_GLOBAL_IPS_MAX = 0, 20
"""The CRD's minimum and maximum of ``numGlobalIPs``."""
ALLOCATED = "Allocated"
"""The condition type of egress and ingress IPs (``GlobalEgressIPAllocated``)."""
POOL_ALLOCATION_FAILED = "IPPoolAllocationFailed"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

GLOBALNET_INFO = "submariner-globalnet-info"
CLUSTER_INFO_KEY = "clusterinfo"
ENABLED_KEY = "globalnetEnabled"
RANGE_KEY = "globalnetCidrRange"


def egress_reads() -> tuple[Read, ...]:
    return (Read(kinds.CLUSTER_GLOBAL_EGRESS_IPS), Read(kinds.GLOBAL_EGRESS_IPS))


def globalnet_info_read(settings: Settings) -> Read:
    return Read(kinds.CONFIGMAPS, settings.broker_namespace, GLOBALNET_INFO)


def pool_size(network: Network) -> int:
    """Addresses Globalnet can hand out: the network and broadcast addresses are excluded."""
    return max(0, network.num_addresses - 2)


def conditions(obj: KubeObject) -> list[Mapping[str, Any]]:
    found = objects.status(obj).get("conditions") or []
    return [c for c in found if isinstance(c, Mapping)]


def last_condition(obj: KubeObject, kind: str = ALLOCATED) -> Mapping[str, Any] | None:
    """The last condition of ``kind`` (Globalnet appends; ``TryAppendCondition`` replaces the
    last one when it is of the same type)."""
    matching = [c for c in conditions(obj) if c.get("type") == kind]
    return matching[-1] if matching else None


def allocated_ips(obj: KubeObject) -> list[str]:
    """``status.allocatedIPs`` of an egress IP, ``status.allocatedIP`` of an ingress IP."""
    status = objects.status(obj)
    many = status.get("allocatedIPs")
    if isinstance(many, list):
        return [str(ip) for ip in many if ip]
    one = status.get("allocatedIP")
    return [str(one)] if one else []


def int_field(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def cluster_egress_count(cgeip: KubeObject | None) -> int:
    """How many cluster egress IPs Globalnet allocates: ``spec.numGlobalIPs`` (nil: 1); the
    default instance, when it is missing, is created with 8."""
    if cgeip is None:
        return DEFAULT_CLUSTER_EGRESS_IPS
    value = int_field(objects.spec(cgeip), "numGlobalIPs")
    return 1 if value is None else value


def egress_count(geip: KubeObject) -> int:
    """A GlobalEgressIP's ``spec.numberOfIPs`` (nil: 1)."""
    value = int_field(objects.spec(geip), "numberOfIPs")
    return 1 if value is None else value


def last_applied_spec(obj: KubeObject) -> Mapping[str, Any]:
    """The spec ``kubectl apply`` last wrote, from its annotation; empty when absent or not
    JSON."""
    text = objects.annotations_of(obj).get(LAST_APPLIED)
    if not text:
        return {}
    try:
        applied = json.loads(text)
    except ValueError:
        return {}
    spec = applied.get("spec") if isinstance(applied, dict) else None
    return spec if isinstance(spec, dict) else {}


def global_ip_annotation(obj: KubeObject) -> str | None:
    value = objects.annotations_of(obj).get(GLOBAL_IP_ANNOTATION)
    return str(value) if value else None


def inside(address: str, network: Network) -> bool:
    parsed = parse_network(address)
    return (
        parsed is not None
        and parsed.version == network.version
        and parsed.num_addresses == 1
        and parsed.network_address in network
    )


def same_network(first: str, second: str) -> bool:
    """Whether two CIDR texts name the same network (normalised, not compared as strings)."""
    a, b = parse_network(first), parse_network(second)
    return a is not None and a == b


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """One ``clusterinfo`` entry of the broker's ``submariner-globalnet-info`` ConfigMap."""

    cluster_id: str
    global_cidrs: tuple[str, ...]


def cluster_info(configmap: KubeObject | None) -> list[ClusterInfo] | None:
    """The entries of ``clusterinfo``; None when the key is no JSON list of entries."""
    text = objects.data(configmap).get(CLUSTER_INFO_KEY)
    if text is None:
        return []
    try:
        entries = json.loads(str(text))
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    found: list[ClusterInfo] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        cidrs = entry.get("global_cidr") or []
        if not isinstance(cidrs, list):
            return None
        found.append(ClusterInfo(str(entry.get("cluster_id") or ""), tuple(str(c) for c in cidrs)))
    return found


def globalnet_range(configmap: KubeObject | None) -> str | None:
    """``globalnetCidrRange``: a JSON string (``"\\"242.0.0.0/8\\""``), or plain text."""
    text = objects.data(configmap).get(RANGE_KEY)
    if not text:
        return None
    try:
        decoded = json.loads(str(text))
    except ValueError:
        return str(text).strip()
    return str(decoded).strip()


def with_cluster_cidr(text: str, cluster_id: str, cidr: str) -> str:
    """``clusterinfo`` with ``cluster_id``'s entry set to ``[cidr]`` (appended when absent),
    every other entry kept as it was, serialised as the operator does (tab indentation)."""
    entries = json.loads(text) if text.strip() else []
    if not isinstance(entries, list):
        raise ValueError("clusterinfo is not a JSON list")
    found = False
    for entry in entries:
        if isinstance(entry, dict) and entry.get("cluster_id") == cluster_id:
            entry["global_cidr"] = [cidr]
            found = True
    if not found:
        entries.append({"cluster_id": cluster_id, "global_cidr": [cidr]})
    return json.dumps(entries, indent="\t")


GLOBALNET_POD_SELECTOR = "app=submariner-globalnet"


def globalnet_pod_read(settings: Settings) -> Read:
    return Read(kinds.PODS, settings.submariner_namespace, label_selector=GLOBALNET_POD_SELECTOR)


def globalnet_pods_on(view: ClusterView, settings: Settings, node: str) -> tuple[KubeObject, ...]:
    """The globalnet pods scheduled on ``node`` (one LIST by label, indexed once per view)."""
    namespace = settings.submariner_namespace

    def compute() -> dict[str, tuple[KubeObject, ...]]:
        found: dict[str, list[KubeObject]] = {}
        for pod in view.list(kinds.PODS, namespace, GLOBALNET_POD_SELECTOR):
            found.setdefault(str(objects.spec(pod).get("nodeName") or ""), []).append(pod)
        return {name: tuple(pods) for name, pods in found.items()}

    return view.derived(("globalnet-pods-by-node", namespace), compute).get(node, ())


def stale_gateways(view: ClusterView, settings: Settings, network: Network) -> list[KubeObject]:
    """Gateways whose ``submariner.io/globalIp`` lies outside the global CIDR."""
    return [
        g
        for g in sorted(view.list(kinds.GATEWAYS, settings.submariner_namespace), key=objects.name)
        if (ip := global_ip_annotation(g)) is not None and not inside(ip, network)
    ]


def stale_gateway_nodes(view: ClusterView, network: Network) -> list[KubeObject]:
    """Gateway Nodes whose ``submariner.io/globalIp`` lies outside the global CIDR (<0.18)."""
    return [
        n
        for n in sorted(view.list(kinds.NODES), key=objects.name)
        if is_gateway(n) and (ip := global_ip_annotation(n)) is not None and not inside(ip, network)
    ]


def leftover_nodes(view: ClusterView) -> list[KubeObject]:
    """Nodes still annotated ``submariner.io/globalIp`` (unused from 0.18)."""
    return [
        n
        for n in sorted(view.list(kinds.NODES), key=objects.name)
        if global_ip_annotation(n) is not None
    ]
