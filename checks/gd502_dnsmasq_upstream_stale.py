"""GD502 and GD504: the DNS configuration that sends clusterset.local to Lighthouse.

GD502: the external dnsmasq forwards ``svc.clusterset.local`` to the Lighthouse CoreDNS
Service's clusterIP. GD504: the cluster's CoreDNS forwards ``clusterset.local`` there too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings, split_name
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, KubeObject

LIGHTHOUSE_SERVICE = "submariner-lighthouse-coredns"
COREDNS_NAMESPACE = "kube-system"
COREDNS_CONFIGMAP = "coredns"
COREFILE_KEY = "Corefile"
CUSTOM_CONFIG_KEY = "lighthouse.server"
_DNSMASQ_CLUSTERSET = re.compile(
    r"^\s*server=/((?:svc\.)?clusterset\.local)/([0-9a-fA-F.:]+)(?:#\d+)?\s*$", re.M
)


def lighthouse_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.SERVICES, settings.submariner_namespace, LIGHTHOUSE_SERVICE),)


def lighthouse_cluster_ip(view: ClusterView, settings: Settings) -> str | None:
    service = view.get(kinds.SERVICES, LIGHTHOUSE_SERVICE, settings.submariner_namespace)
    if service is None:
        return None
    ip = (service.get("spec") or {}).get("clusterIP")
    return str(ip) if ip and ip != "None" else None


def dnsmasq_clusterset_servers(data: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(domain, ip)`` of every ``server=/[svc.]clusterset.local/<ip>`` line in the ConfigMap."""
    found: list[tuple[str, str]] = []
    for key in sorted(data):
        found.extend(_DNSMASQ_CLUSTERSET.findall(str(data[key])))
    return found


def corefile_clusterset_forwards(corefile: str) -> list[str] | None:
    """The ``forward .`` targets of the ``clusterset.local`` server block; None without one."""
    lines = corefile.splitlines()
    for index, line in enumerate(lines):
        words = line.split()
        if not words or "{" not in line:
            continue
        zones = [w.rstrip("{").split(":")[0].rstrip(".") for w in words if w != "{"]
        if "clusterset.local" not in zones:
            continue
        depth = 0
        targets: list[str] = []
        for inner in lines[index:]:
            stripped = inner.split("#", 1)[0].strip()
            if stripped.startswith("forward ."):
                targets.extend(t.split(":")[0] for t in stripped.split()[2:] if t != "{")
            depth += inner.count("{") - inner.count("}")
            if depth <= 0:
                break
        return targets
    return None


class DnsmasqUpstreamStale(Check):
    id = "GD502"
    name = "dnsmasq-upstream-stale"
    title = "The external dnsmasq forwards svc.clusterset.local to the Lighthouse CoreDNS Service"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster"})
    fix = "GD502"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        namespace, name = split_name(settings.dnsmasq_configmap, "dnsmasq_configmap")
        return (Read(kinds.CONFIGMAPS, namespace, name), *lighthouse_reads(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        namespace, name = split_name(settings.dnsmasq_configmap, "dnsmasq_configmap")
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        if configmap is None:
            raise NotApplicable(f"no external dnsmasq ConfigMap {namespace}/{name} here")
        servers = dnsmasq_clusterset_servers(configmap.get("data") or {})
        expected = lighthouse_cluster_ip(view, settings)
        resources = [ref(view.name, kinds.CONFIGMAPS, configmap)]
        evidence = {
            "clustersetServers": [f"/{d}/{ip}" for d, ip in servers],
            "lighthouseClusterIP": expected,
        }
        if expected is None:
            yield self.finding(
                f"Service {settings.submariner_namespace}/{LIGHTHOUSE_SERVICE} does not exist, "
                "so dnsmasq has nothing to forward clusterset.local to",
                resources=resources,
                evidence=evidence,
                remedy="Enable service discovery (subctl join deploys Lighthouse), then rerun.",
            )
            return
        if not servers:
            yield self.finding(
                f"dnsmasq ConfigMap {namespace}/{name} has no server=/svc.clusterset.local/ line",
                resources=resources,
                evidence=evidence,
                remedy=f"Add `server=/svc.clusterset.local/{expected}` to the ConfigMap and "
                "restart the dnsmasq pods.",
            )
            return
        stale = sorted({ip for _, ip in servers if ip != expected})
        if stale:
            yield self.finding(
                f"dnsmasq forwards clusterset.local to {', '.join(stale)}, but the Lighthouse "
                f"CoreDNS Service's clusterIP is {expected}",
                resources=resources,
                evidence=evidence,
                remedy=f"Point the server= line at {expected} and restart the dnsmasq pods.",
            )


def service_discovery(view: ClusterView, settings: Settings) -> KubeObject | None:
    found = view.list(kinds.SERVICE_DISCOVERIES, settings.submariner_namespace)
    return found[0] if found else None
