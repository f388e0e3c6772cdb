"""GD602's fix: route the global CIDR through a gateway node on a connected subnet."""

from __future__ import annotations

from globalnet_doctor.fixspec import Fix, FixContext, PlanError, RouteChange, Safety, Step
from globalnet_doctor.host_situation import suggested_gateway
from globalnet_doctor.host_view import HostView, Route

MAIN_TABLE = 254


def persist_advice(cidr: str, hop: str, interface: str) -> str:
    """How to make the route survive a reboot, for the usual network managers (a runtime
    route is gone with the next reboot or interface restart)."""
    return (
        f"NetworkManager: `nmcli connection modify <connection> +ipv4.routes '{cidr} {hop}'` "
        f"then `nmcli connection up <connection>`; ifupdown: `up ip route replace {cidr} via "
        f"{hop}` under `iface {interface}` in /etc/network/interfaces; netplan: under "
        f"`{interface}:` add `routes: [{{to: {cidr}, via: {hop}}}]`, then `netplan apply`; "
        f"systemd-networkd: a [Route] section with Destination={cidr} and Gateway={hop} in "
        f"the interface's .network file; network-scripts: `{cidr} via {hop} dev {interface}` "
        f"in /etc/sysconfig/network-scripts/route-{interface}"
    )


class RouteGlobalCidr(Fix):
    """Safe: one route of the machine's main table, for the global CIDR alone (242.0.0.0/8 by
    default, class E space that nothing but Submariner uses), so no other destination changes
    path and no connection is restarted. A route already there for the same prefix (through a
    node that is no gateway) is replaced, and put back on undo."""

    id = "GD602"
    title = "add the route for the global CIDR via a gateway node on a connected subnet"
    safety = Safety.SAFE
    order = 71

    def plan(self, ctx: FixContext) -> list[Step]:
        host = ctx.host_view
        facts = ctx.host_facts
        owner = ctx.host.owner.context if ctx.host is not None else None
        gateway = suggested_gateway(host, facts, owner)
        if gateway is None:
            raise PlanError(
                "no gateway node is on a subnet this machine has an address on: give it an "
                f"address there first, then route {facts.global_range} via that gateway node"
            )
        interface = host.addresses_reaching(gateway.address)[0].interface
        cidr = facts.global_range
        existing = _route_for(host, cidr)
        if (
            existing is not None
            and existing.gateway == gateway.address
            and existing.interface == interface
        ):
            return []
        return [
            RouteChange(
                destination=cidr,
                gateway=gateway.address,
                device=interface,
                why=f"global IPs are reached through {gateway.describe()}",
                before=existing,
                advice=persist_advice(cidr, gateway.address, interface),
                table=MAIN_TABLE,
            )
        ]


def _route_for(host: HostView, cidr: str) -> Route | None:
    return next((r for r in host.routes if r.destination == cidr and r.table == MAIN_TABLE), None)
