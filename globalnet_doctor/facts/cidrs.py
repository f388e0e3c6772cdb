"""CIDR arithmetic: parsing what objects carry, containment and overlap.

Objects write CIDRs by hand (``10.96.0.0/12``, a host route ``172.16.255.184/32``, sometimes
with host bits set), so parsing is lenient and never raises: a value that is no CIDR at all is
``None`` and takes part in no comparison.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: object) -> Network | None:
    """``text`` as a network (host bits dropped); a bare address is its /32 (or /128)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def covers(outer: str, inner: str) -> bool:
    """Whether the CIDR ``outer`` contains all of ``inner`` (equal counts; string form does not)."""
    outer_net, inner_net = parse_network(outer), parse_network(inner)
    if outer_net is None or inner_net is None or outer_net.version != inner_net.version:
        return False
    return inner_net.network_address in outer_net and inner_net.broadcast_address in outer_net


def overlaps(first: str, second: str) -> bool:
    """Whether the two CIDRs share at least one address."""
    first_net, second_net = parse_network(first), parse_network(second)
    if first_net is None or second_net is None or first_net.version != second_net.version:
        return False
    return first_net.overlaps(second_net)


def contains_address(cidrs: Iterable[str], address: str) -> bool:
    """Whether any of ``cidrs`` contains the IP ``address``."""
    return any(covers(cidr, address) for cidr in cidrs)


def dashed(cidr: str) -> str:
    """A CIDR as it may appear in an object name: ``242.1.0.0/16`` -> ``242.1.0.0-16``."""
    return cidr.replace("/", "-").replace(":", "-")


def is_cidr(text: str) -> bool:
    """Whether ``text`` parses as it is (no surrounding blanks): a value that does not takes
    part in no route lookup."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def first_address(cidr: str) -> str:
    """The first host address of a CIDR, the one route lookups use for the whole block."""
    network = ipaddress.ip_network(cidr, strict=False)
    if network.num_addresses <= 2:
        return str(network.network_address)
    return str(network.network_address + 1)


def address_in(address: str, network: Network) -> bool:
    """Whether the IP ``address`` lies in ``network``; False when it is no IP."""
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False


def sort_key(cidr: str) -> tuple[int, int, int, str]:
    """Orders CIDRs by family, address and prefix length; text that is no CIDR sorts last,
    by its text."""
    network = parse_network(cidr)
    if network is None:
        return (7, 0, 0, cidr)
    return (network.version, int(network.network_address), network.prefixlen, cidr)
