"""GD501: the external host's resolv.conf does not name the DNS service's current global IP.

The external host resolves ``*.svc.clusterset.local`` through an external DNS Service (dnsmasq
in the field report) exported with Globalnet: its GlobalIngressIP is the nameserver. A re-deploy
gives the service a new global IP (242.0.255.253 became 242.0.255.254 in the field report) and
the host's resolv.conf keeps the old one: names stop resolving although every IP answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.facts.dns import dns_service_for, managed_by
from globalnet_doctor.host_check import HostCheck, require_host, require_situation
from globalnet_doctor.host_view import RESOLV_CONF_MAX_NAMESERVERS, HostRole, ResolvConf
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import CheckContext, NotApplicable, ref


def _remedy(resolv: ResolvConf, current: str, stale: list[str]) -> str:
    manager = managed_by(resolv)
    if manager == "systemd-resolved":
        return (
            f"{resolv.path} is managed by systemd-resolved: `resolvectl dns <interface> "
            f"{current}` and `resolvectl domain <interface> '~clusterset.local'` (and the same in "
            "its network configuration), then rerun."
        )
    if manager == "NetworkManager":
        return (
            f"{resolv.path} is written by NetworkManager: `nmcli connection modify <connection> "
            f"ipv4.dns {current}` (add `ipv4.ignore-auto-dns yes` when DHCP supplies others), "
            "then `nmcli connection up <connection>`."
        )
    if stale:
        lines = ", ".join(f"`nameserver {ip}`" for ip in stale)
        return (
            f"Replace {lines} with `nameserver {current}` in {resolv.path}, keeping the other "
            "lines, with a backup."
        )
    return (
        f"Add `nameserver {current}` as the first nameserver line of {resolv.path}, keeping "
        "the other lines, with a backup."
    )


class StaleResolvConf(HostCheck):
    id = "GD501"
    name = "stale-resolv-conf"
    title = "The external host's resolv.conf names the DNS service's current global IP"
    severity = Severity.ERROR
    tags = frozenset({"host", "dns", "globalnet"})
    explains = frozenset({"GD503"})
    host_roles = frozenset({HostRole.EXTERNAL})
    fix = "GD501"

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        situation = require_situation(ctx)
        host = require_host(ctx)
        resolv = host.resolv_conf
        cluster_facts = situation.facts
        dns = dns_service_for(cluster_facts, situation.owner.context, ctx.settings.dns_service)
        if dns.global_ip is None:
            raise NotApplicable(
                f"the DNS Service {dns.namespace}/{dns.name} of {dns.context} has no global IP "
                "yet, so there is nothing to compare resolv.conf with (see GD302)"
            )
        if resolv.error is not None and resolv.error != "no such file":
            raise NotApplicable(f"cannot read {resolv.path}: {resolv.error}")
        current = dns.global_ip
        used = list(resolv.nameservers[:RESOLV_CONF_MAX_NAMESERVERS])
        ignored = list(resolv.nameservers[RESOLV_CONF_MAX_NAMESERVERS:])
        stale = [
            ip
            for ip in dict.fromkeys(resolv.nameservers)
            if ip != current
            and cluster_facts.in_global_space(ip)
            and cluster_facts.holder_of(ip) is None
        ]
        service = f"{dns.namespace}/{dns.name} of {dns.context}"
        evidence: dict[str, Any] = {
            "resolvConf": resolv.path,
            "nameservers": list(resolv.nameservers),
            "search": list(resolv.search),
            "options": list(resolv.options),
            "dnsService": f"{dns.context}/{dns.namespace}/{dns.name}",
            "dnsServiceGlobalIP": current,
            "staleNameservers": stale,
            "managedBy": managed_by(resolv),
        }
        if resolv.symlink_target:
            evidence["symlinkTarget"] = resolv.symlink_target
        if ignored:
            evidence["ignoredNameservers"] = ignored
        if resolv.error == "no such file":
            message = (
                f"{resolv.path} does not exist, so the resolver asks 127.0.0.1, not the DNS "
                f"Service {service} at its global IP {current}"
            )
        elif stale and current not in used:
            message = (
                f"{resolv.path} names {', '.join(stale)}, which no GlobalIngressIP holds any "
                f"more: the DNS Service {service} now has the global IP {current}, so "
                "clusterset names do not resolve"
            )
        elif current in ignored:
            message = (
                f"{resolv.path} names {current} (the DNS Service {service}) only as nameserver "
                f"#{resolv.nameservers.index(current) + 1}; the resolver uses the first "
                f"{RESOLV_CONF_MAX_NAMESERVERS} alone"
            )
        elif current not in used:
            message = (
                f"{resolv.path} does not name {current}, the global IP of the DNS Service "
                f"{service}, as a nameserver (it names {', '.join(used) or 'none'})"
            )
        elif stale:
            message = (
                f"{resolv.path} still names {', '.join(stale)}, which no GlobalIngressIP holds "
                f"any more, besides {current} (the DNS Service {service}): every lookup that "
                "tries it first waits for its timeout"
            )
        else:
            return
        resources: list[ResourceRef] = []
        if dns.ingress_ip is not None:
            resources.append(ref(dns.context, kinds.GLOBAL_INGRESS_IPS, dns.ingress_ip))
        if dns.service is not None:
            resources.append(ref(dns.context, kinds.SERVICES, dns.service, "v1"))
        yield self.finding(
            message,
            resources=resources,
            evidence=evidence,
            remedy=_remedy(resolv, current, stale),
        )
