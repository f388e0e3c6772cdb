"""The cables between gateways: what a Gateway's connection says about the tunnel (``usingIP``,
``usingNAT``, the remote Endpoint, the backend) and the flows that tunnel needs through the
network between the two gateways.

Field names follow ``submariner:pkg/apis/submariner.io/v1/types.go`` (``Connection``:
``status``, ``statusMessage``, ``endpoint``, ``usingIP``, ``usingNAT``); ports follow
``submariner:pkg/port/ports.go`` and the per-node ``backend_config`` keys ``udp-port`` and
``natt-discovery-port``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor.config import Settings
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

NATT_DISCOVERY_PORT = 4490
EXTERNAL_TUNNEL_PORT = 4500
LIBRESWAN = "libreswan"
WIREGUARD = "wireguard"
VXLAN = "vxlan"
FORCE_UDP_ENCAPS = "ceIPSecForceUDPEncaps"
"""``Submariner.spec.ceIPSecForceUDPEncaps``: what ``subctl join --force-udp-encaps`` sets."""
UDP_ENCAPSULATION_HELPS = "udpEncapsulationMayHelp"
"""GD408's evidence key: forcing UDP encapsulation (its fix) is what the finding calls for."""
BLOCKED_BOTH_WAYS = "blockedBothWays"
"""GD408's evidence key: the remote cluster's cable back is down too (its own finding)."""
WIREGUARD_NO_HANDSHAKE = ("no initial handshake for", "no handshake for", "no bytes sent or")
"""The WireGuard driver's errors (``submariner:pkg/cable/wireguard/getconnections.go``)."""


@dataclass(frozen=True, slots=True)
class Cable:
    """One connection of a Gateway (``facts.gateways.Connection``) with the fields the cable
    needs: the local Endpoint, ``usingIP`` and ``usingNAT``."""

    connection: gateway_facts.Connection
    local: Mapping[str, Any]
    using_ip: str
    using_nat: bool

    @property
    def gateway(self) -> KubeObject:
        return self.connection.gateway

    @property
    def status(self) -> str:
        return self.connection.status

    @property
    def message(self) -> str:
        return self.connection.message

    @property
    def remote_cluster_id(self) -> str:
        return self.connection.remote_cluster_id

    @property
    def remote(self) -> Mapping[str, Any]:
        return self.connection.remote

    @property
    def ping_failure_ip(self) -> str | None:
        return self.connection.ping_failure_ip

    @property
    def backend(self) -> str:
        return str(self.local.get("backend") or self.remote.get("backend") or LIBRESWAN)

    @property
    def wireguard_stuck(self) -> bool:
        return self.status == "error" and any(t in self.message for t in WIREGUARD_NO_HANDSHAKE)


def cables(gateway: KubeObject) -> list[Cable]:
    """The connections of ``gateway`` as reported in its status."""
    status = objects.status(gateway)
    local = status.get("localEndpoint") or {}
    raw = status.get("connections") or []
    return [
        Cable(
            connection=connection,
            local=local,
            using_ip=str(entry.get("usingIP") or ""),
            using_nat=entry.get("usingNAT") is True,
        )
        for entry, connection in zip(raw, gateway_facts.connections(gateway), strict=True)
    ]


def port(endpoint: Mapping[str, Any], key: str, default: int) -> int:
    """A port from an Endpoint's ``backend_config`` (``udp-port``, ``natt-discovery-port``)."""
    config = endpoint.get("backend_config") or {}
    try:
        value = int(str(config.get(key) or default))
    except ValueError:
        return default
    return value if 1 <= value <= 65535 else default


def force_udp_encaps(view: ClusterView, settings: Settings) -> bool:
    cr = submariner.submariner_cr(view, settings)
    return objects.spec(cr).get(FORCE_UDP_ENCAPS) is True


def forced_if_readable(view: ClusterView | None, settings: Settings) -> bool:
    """Whether ``view`` forces UDP encapsulation; False when it is absent or unreadable."""
    if view is None:
        return False
    try:
        return force_udp_encaps(view, settings)
    except InputUnavailable:
        return False


def flows(cable: Cable, forced: bool) -> list[str]:
    """The flows the cable needs from the local gateway to the remote one (the reverse
    direction needs the same with the addresses swapped)."""
    src = str(cable.local.get("private_ip") or "?")
    dst = cable.using_ip or str(cable.remote.get("public_ip") or cable.remote.get("private_ip"))
    udp = port(cable.remote, "udp-port", EXTERNAL_TUNNEL_PORT)
    found = [f"{src} -> {dst} UDP {udp}"]
    if cable.backend == LIBRESWAN and not (cable.using_nat or forced):
        found.append(f"{src} -> {dst} ESP (IP protocol 50)")
    natt = port(cable.remote, "natt-discovery-port", NATT_DISCOVERY_PORT)
    for remote_ip in dict.fromkeys(
        str(cable.remote.get(k) or "") for k in ("private_ip", "public_ip")
    ):
        if remote_ip:
            found.append(f"{src} -> {remote_ip} UDP {natt} (NAT discovery)")
    return found


def esp_may_be_filtered(cable: Cable, forced_here: bool, forced_there: bool) -> bool:
    """IKE passed (the cable came up) but the health check's pings are lost, on a libreswan
    cable sending plain ESP: the ESP packets are likely filtered. The syncer turns a connected
    cable whose pings fail into ``status: error`` with the pinger's message
    (``submariner:pkg/cableengine/syncer/syncer.go``)."""
    return (
        cable.ping_failure_ip is not None
        and cable.backend == LIBRESWAN
        and not cable.using_nat
        and not forced_here
        and not forced_there
    )


def active_cables(view: ClusterView, settings: Settings) -> list[Cable]:
    """Every connection of every active Gateway of the cluster."""
    return [
        cable
        for gateway in gateway_facts.gateways(view, settings)
        if gateway_facts.is_active(gateway)
        for cable in cables(gateway)
    ]


def view_of(
    cluster_id: str, clusters: Sequence[ClusterView], settings: Settings
) -> ClusterView | None:
    context = submariner.contexts_by_cluster_id(clusters, settings).get(cluster_id)
    return next((v for v in clusters if v.name == context), None)
