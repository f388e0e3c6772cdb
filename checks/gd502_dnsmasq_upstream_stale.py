"""GD502: the external dnsmasq forwards ``svc.clusterset.local`` to the Lighthouse CoreDNS
Service's clusterIP (the field report's name-resolution path from outside the clusters)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings, split_name
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.dns import (
    LIGHTHOUSE_SERVICE,
    dnsmasq_clusterset_servers,
    lighthouse_cluster_ip,
    lighthouse_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class DnsmasqUpstreamStale(Check):
    id = "GD502"
    name = "dnsmasq-upstream-stale"
    title = "The external dnsmasq forwards svc.clusterset.local to the Lighthouse CoreDNS Service"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster"})
    explains = frozenset({"GD503"})
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
        servers = dnsmasq_clusterset_servers(objects.data(configmap))
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
