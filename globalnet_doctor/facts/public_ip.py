"""The gateway's public IP: whether a crash-looping gateway looks like one that cannot resolve
it, the per-node override, and the load balancer it may wait for (GD405 and its fix).

Upstream: ``submariner:pkg/endpoint/local_endpoint.go`` fails the gateway's start with
"could not determine public IP" when every resolver (``api:`` services on the Internet by
default) fails; air-gapped deployments (0.14+) use only ``ipv4:`` resolvers and carry on with
an empty public IP. A node annotation (or label; the annotation wins)
``gateway.submariner.io/public-ip=ipv4:<IP>`` names the address and needs no resolver. With
``loadBalancerEnabled`` the ``lb:`` resolver waits for ``status.loadBalancer.ingress`` of the
Service ``submariner-gateway``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.active_gateway import gateway_pods, pod_node
from globalnet_doctor.facts.submariner import GATEWAY, cr_cluster_id
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

PUBLIC_IP = "gateway.submariner.io/public-ip"
LOAD_BALANCER_SERVICE = GATEWAY
RESTARTS_FOR_CRASH_LOOP = 3


def load_balancer_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.SERVICES, settings.submariner_namespace, LOAD_BALANCER_SERVICE),)


def override(node: KubeObject | None) -> str | None:
    """The node's ``gateway.submariner.io/public-ip`` (annotation, else label)."""
    value = objects.annotations_of(node).get(PUBLIC_IP) or objects.labels(node).get(PUBLIC_IP)
    return str(value) if value else None


def crash_looping(pod: KubeObject) -> Mapping[str, Any] | None:
    """The gateway container's status when it crash-loops: waiting in ``CrashLoopBackOff``, or
    restarted at least three times after a failed exit."""
    for status in objects.status(pod).get("containerStatuses") or []:
        if not isinstance(status, Mapping) or status.get("name") != GATEWAY:
            continue
        waiting = (status.get("state") or {}).get("waiting") or {}
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        restarts = int(status.get("restartCount") or 0)
        failed = terminated.get("exitCode") not in (None, 0)
        if waiting.get("reason") == "CrashLoopBackOff" or (
            restarts >= RESTARTS_FOR_CRASH_LOOP and failed
        ):
            return status
    return None


def air_gapped(cr: KubeObject) -> bool:
    return objects.spec(cr).get("airGappedDeployment") is True


def nat_enabled(cr: KubeObject) -> bool:
    return objects.spec(cr).get("natEnabled") is True


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A crash-looping gateway pod on a node without a public-IP override."""

    pod: KubeObject
    node: KubeObject | None
    node_name: str
    container: Mapping[str, Any]


def unresolved_gateways(
    view: ClusterView, settings: Settings, cr: KubeObject, broker_endpoints: Sequence[KubeObject]
) -> list[Unresolved]:
    """Crash-looping gateway pods that look like a failed public-IP resolution: not air-gapped,
    no override on the node, and no Endpoint of the cluster on the broker (a gateway that ever
    started would have published one)."""
    if air_gapped(cr) or broker_endpoints:
        return []
    nodes = {objects.name(n): n for n in view.list(kinds.NODES)}
    found = []
    for pod in gateway_pods(view, settings):
        container = crash_looping(pod)
        name = pod_node(pod)
        node = nodes.get(name)
        if container is not None and override(node) is None:
            found.append(Unresolved(pod, node, name, container))
    return sorted(found, key=lambda u: objects.name(u.pod))


def address(node: KubeObject | None, kind: str) -> str | None:
    for entry in objects.status(node).get("addresses") or []:
        if isinstance(entry, Mapping) and entry.get("type") == kind and entry.get("address"):
            return str(entry["address"])
    return None


def planned_public_ip(node: KubeObject | None, cr: KubeObject) -> str | None:
    """The address to pin: the node's ExternalIP, else its InternalIP when NAT traversal is off
    (the public IP is then not used to connect); None when neither applies."""
    external = address(node, "ExternalIP")
    if external is not None:
        return external
    return None if nat_enabled(cr) else address(node, "InternalIP")


def cluster_id_of(cr: KubeObject) -> str:
    return cr_cluster_id(cr) or ""
