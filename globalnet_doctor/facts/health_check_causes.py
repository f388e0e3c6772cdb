"""Root causes of a failing gateway health check, as predicates the checks that own them share
with GD402 (one place each, whatever checks run):

- ``cluster_cidr_mismatch_problems``: GD003 cluster-cidr-mismatch (pods or Services outside the
  CIDRs Submariner uses; the cluster CIDR is one node's podCIDR);
- ``stale_global_ip_problems``: GD309 stale-global-ip-annotation (a ``submariner.io/globalIp``
  or an Endpoint ``healthCheckIP`` outside the global CIDR);
- ``esp_filtered_problems``: GD408's status side, finding F2 (a libreswan cable up, its pings
  lost, plain ESP between the gateways).

Each has the signature of GD402's ``Predicate`` (``view, clusters, settings -> problems``) and a
``*_reads(settings)`` naming the reads it needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import cidrs, objects, submariner, tunnels
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

GLOBAL_IP_ANNOTATION = "submariner.io/globalIp"
GATEWAY_CARRIES_GLOBAL_IP = (0, 18)
"""From 0.18 the Gateway (not the gateway Node) carries ``submariner.io/globalIp`` (commit
``803f804b``)."""
POD_PHASES = ("Running", "Pending")
SAMPLE = 10


# --- GD003 cluster-cidr-mismatch -------------------------------------------------------------


def cluster_cidr_reads(settings: Settings) -> tuple[Read, ...]:
    return (
        *submariner.submariner_reads(settings),
        Read(kinds.NODES),
        Read(kinds.PODS),
        Read(kinds.SERVICES),
    )


def _ipv4(text: object) -> str | None:
    network = cidrs.parse_network(text)
    if network is None or network.version != 4 or network.prefixlen != 32:
        return None
    return str(network.network_address)


def pod_ip(pod: KubeObject) -> str | None:
    """A pod's primary IPv4 address (``status.podIPs[0]``, else ``status.podIP``)."""
    status = objects.status(pod)
    listed = status.get("podIPs") or []
    first = listed[0].get("ip") if listed and isinstance(listed[0], dict) else None
    return _ipv4(first or status.get("podIP"))


def pods_outside(view: ClusterView, cluster_cidrs: Sequence[str]) -> list[str]:
    """``namespace/name ip`` of running or pending pod-network pods outside ``cluster_cidrs``."""
    found = []
    for pod in view.list(kinds.PODS):
        if objects.spec(pod).get("hostNetwork") is True:
            continue
        if objects.status(pod).get("phase") not in POD_PHASES:
            continue
        address = pod_ip(pod)
        if address is not None and not cidrs.contains_address(cluster_cidrs, address):
            found.append(f"{objects.namespaced_name(pod)} {address}")
    return sorted(found)


def services_outside(view: ClusterView, service_cidrs: Sequence[str]) -> list[str]:
    """``namespace/name ip`` of Services whose IPv4 clusterIP is outside ``service_cidrs``."""
    found = []
    for service in view.list(kinds.SERVICES):
        spec = objects.spec(service)
        if spec.get("type") == "ExternalName":
            continue
        address = _ipv4(spec.get("clusterIP"))
        if address is not None and not cidrs.contains_address(service_cidrs, address):
            found.append(f"{objects.namespaced_name(service)} {address}")
    return sorted(found)


def one_node_pod_cidr(view: ClusterView, cluster_cidrs: Sequence[str]) -> str | None:
    """The node whose podCIDR alone is the cluster CIDR while another node's is outside it
    (the generic discovery took ``nodes[0].spec.podCIDR``, #1583)."""
    if len(cluster_cidrs) != 1:
        return None
    nodes = view.list(kinds.NODES)
    pod_cidrs = {objects.name(n): str(objects.spec(n).get("podCIDR") or "") for n in nodes}
    same = [name for name, cidr in pod_cidrs.items() if cidr == cluster_cidrs[0]]
    others = [c for c in pod_cidrs.values() if c and not cidrs.covers(cluster_cidrs[0], c)]
    return same[0] if len(same) == 1 and others else None


def cluster_cidr_mismatch_problems(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    """GD003's facts: what Submariner takes for the cluster's networks is not where its pods
    and Services are."""
    cr = submariner.submariner_cr(view, settings)
    if cr is None:
        return []
    problems = []
    cluster_cidrs = submariner.submariner_field(cr, "clusterCIDR")
    service_cidrs = submariner.submariner_field(cr, "serviceCIDR")
    if cluster_cidrs:
        node = one_node_pod_cidr(view, cluster_cidrs)
        if node is not None:
            problems.append(f"the cluster CIDR {cluster_cidrs[0]} is node {node}'s podCIDR alone")
        pods = pods_outside(view, cluster_cidrs)
        if pods:
            problems.append(
                f"{len(pods)} pod(s) outside the cluster CIDR {','.join(cluster_cidrs)} "
                f"({', '.join(pods[:SAMPLE])})"
            )
    if service_cidrs:
        services = services_outside(view, service_cidrs)
        if services:
            problems.append(
                f"{len(services)} Service(s) outside the service CIDR {','.join(service_cidrs)} "
                f"({', '.join(services[:SAMPLE])})"
            )
    return problems


# --- GD309 stale-global-ip-annotation --------------------------------------------------------


def stale_global_ip_reads(settings: Settings) -> tuple[Read, ...]:
    return (
        *submariner.submariner_reads(settings),
        *gateway_facts.gateway_reads(settings),
        Read(kinds.NODES),
        *submariner.broker_reads(settings),
    )


def stale_global_ip_problems(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    """GD309's facts: the global IP the gateway announces for its health check is outside the
    cluster's global CIDR, so remote gateways ping an address that does not route (#1780)."""
    cr = submariner.submariner_cr(view, settings)
    global_cidr = submariner.global_cidr(view, settings)
    if cr is None or global_cidr is None:
        return []
    problems = []

    def outside(what: str, address: object) -> None:
        if address and not cidrs.contains_address([global_cidr], str(address)):
            problems.append(f"{what} {address} is outside the global CIDR {global_cidr}")

    active = [g for g in gateway_facts.gateways(view, settings) if gateway_facts.is_active(g)]
    if submariner.at_least(submariner.submariner_version(cr), GATEWAY_CARRIES_GLOBAL_IP):
        for gateway in active:
            annotation = objects.annotations_of(gateway).get(GLOBAL_IP_ANNOTATION)
            outside(f"Gateway {objects.name(gateway)} {GLOBAL_IP_ANNOTATION}", annotation)
    else:
        for node in gateway_facts.gateway_nodes(view):
            annotation = objects.annotations_of(node).get(GLOBAL_IP_ANNOTATION)
            outside(f"gateway node {objects.name(node)} {GLOBAL_IP_ANNOTATION}", annotation)
    for gateway in active:
        local = objects.status(gateway).get("localEndpoint") or {}
        outside(f"Gateway {objects.name(gateway)} healthCheckIP", local.get("healthCheckIP"))
    broker = submariner.broker_view(clusters, settings)
    local_id = submariner.cluster_id(view, settings)
    if broker is not None and local_id is not None:
        for endpoint in broker.list(kinds.SUBMARINER_ENDPOINTS, settings.broker_namespace):
            spec = objects.spec(endpoint)
            if spec.get("cluster_id") == local_id:
                outside(
                    f"broker Endpoint {objects.name(endpoint)} healthCheckIP",
                    spec.get("healthCheckIP"),
                )
    return list(dict.fromkeys(problems))


# --- GD408 inter-cluster-tunnel-blocked, F2 (ESP filtered) -----------------------------------


def esp_filtered_reads(settings: Settings) -> tuple[Read, ...]:
    return (*submariner.submariner_reads(settings), *gateway_facts.gateway_reads(settings))


def esp_filtered_cables(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[tunnels.Cable]:
    """The cables of the cluster's active Gateways that came up (IKE passed) but lose their
    health-check pings while sending plain ESP (libreswan, no NAT, UDP encapsulation forced on
    neither side)."""
    forced_here = tunnels.force_udp_encaps(view, settings)
    found = []
    for cable in tunnels.active_cables(view, settings):
        remote = tunnels.view_of(cable.remote_cluster_id, clusters, settings)
        forced_there = tunnels.forced_if_readable(remote, settings)
        if tunnels.esp_may_be_filtered(cable, forced_here, forced_there):
            found.append(cable)
    return found


def esp_filtered_problems(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    return [
        f"the libreswan cable to {c.remote_cluster_id} is up but loses its health-check pings: "
        f"plain ESP between {c.local.get('private_ip') or '?'} and "
        f"{c.using_ip or c.remote.get('private_ip') or '?'} is likely filtered"
        for c in esp_filtered_cables(view, clusters, settings)
    ]
