"""Kernel parameters: how ``sysctl`` names a /proc/sys key, and reverse-path filtering (its
modes, and which interfaces of the machine it matters on)."""

from __future__ import annotations

from globalnet_doctor.facts.clusterset import ClusterFacts
from globalnet_doctor.host_situation import neighbour_gateways
from globalnet_doctor.host_view import HostRole, HostView


def sysctl_name(path: str) -> str:
    """A /proc/sys path as ``sysctl`` takes it: dotted, unless a component holds a dot
    (``eth0.100``), where the slash form is the only unambiguous one."""
    parts = path.split("/")
    return path if any("." in p for p in parts) else ".".join(parts)


STRICT = 1
MODES = {0: "off", 1: "strict", 2: "loose"}
KERNEL_DEFAULT = 0
"""The kernel's rp_filter default; a key no file sets starts from it at boot."""


def interfaces_to_judge(
    host: HostView, cluster_facts: ClusterFacts, role: HostRole | None
) -> dict[str, str]:
    """interface -> why it matters: the one holding a gateway node's own InternalIP; on an
    external host, the ones that reach a neighbouring gateway and the one the global CIDR's
    traffic leaves by."""
    found: dict[str, str] = {}
    if role is HostRole.GATEWAY:
        for node in cluster_facts.gateway_nodes:
            address = host.address_of(node.address)
            if address is not None:
                found.setdefault(address.interface, f"it holds the InternalIP of {node.describe()}")
        return found
    for node in neighbour_gateways(host, cluster_facts):
        lookup = host.route_lookups.get(node.address)
        if lookup is not None and lookup.interface:
            found.setdefault(lookup.interface, f"it reaches {node.describe()}")
    range_lookup = host.route_lookups.get(cluster_facts.range_probe_address())
    if range_lookup is not None and range_lookup.interface and range_lookup.interface != "lo":
        found.setdefault(
            range_lookup.interface,
            f"traffic to the global CIDR {cluster_facts.global_range} leaves by it",
        )
    return found
