"""GD502 and GD504: the DNS configuration that sends clusterset.local to Lighthouse.

GD502: the external dnsmasq forwards ``svc.clusterset.local`` to the Lighthouse CoreDNS
Service's clusterIP. GD504: the cluster's CoreDNS forwards ``clusterset.local`` there too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.dns import (
    COREDNS_CONFIGMAP,
    COREDNS_NAMESPACE,
    COREFILE_KEY,
    CUSTOM_CONFIG_KEY,
    LIGHTHOUSE_MISSING_REMEDY,
    corefile_clusterset_forwards,
    lighthouse_cluster_ip,
    lighthouse_missing,
    require_service_discovery,
    service_discovery_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class CorednsClustersetForward(Check):
    id = "GD504"
    name = "coredns-clusterset-forward"
    title = "The cluster DNS forwards clusterset.local to the Lighthouse CoreDNS Service"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster"})
    fix = "GD504"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *service_discovery_reads(settings),
            # Every ConfigMap of kube-system: CoreDNS's own and a custom Lighthouse one.
            Read(kinds.CONFIGMAPS, COREDNS_NAMESPACE),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        discovery = require_service_discovery(view, settings)
        custom = objects.spec(discovery).get("coreDNSCustomConfig") or {}
        if custom.get("configMapName"):
            namespace = custom.get("namespace") or COREDNS_NAMESPACE
            name, key = str(custom["configMapName"]), CUSTOM_CONFIG_KEY
            if namespace != COREDNS_NAMESPACE:
                raise NotApplicable(
                    f"the Lighthouse DNS configuration is in {namespace}/{name}, outside "
                    f"{COREDNS_NAMESPACE}, which gdoctor does not read"
                )
        else:
            namespace, name, key = COREDNS_NAMESPACE, COREDNS_CONFIGMAP, COREFILE_KEY
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        if configmap is None:
            raise NotApplicable(f"no CoreDNS ConfigMap {namespace}/{name} (not CoreDNS?)")
        expected = lighthouse_cluster_ip(view, settings)
        forwards = corefile_clusterset_forwards(str(objects.data(configmap).get(key, "")))
        resources = [ref(view.name, kinds.CONFIGMAPS, configmap)]
        evidence = {
            "configMap": f"{namespace}/{name}",
            "key": key,
            "clustersetForwards": forwards,
            "lighthouseClusterIP": expected,
        }
        if expected is None:
            yield self.finding(
                lighthouse_missing(settings),
                resources=resources,
                evidence=evidence,
                remedy=LIGHTHOUSE_MISSING_REMEDY,
            )
        elif forwards is None:
            yield self.finding(
                f"{namespace}/{name} has no clusterset.local block: clusterset names do not "
                "resolve from pods",
                resources=resources,
                evidence=evidence,
                remedy=f"Add a `clusterset.local:53 {{ forward . {expected} }}` block between "
                "#lighthouse-start and #lighthouse-end.",
            )
        elif forwards != [expected]:
            yield self.finding(
                f"{namespace}/{name} forwards clusterset.local to "
                f"{', '.join(forwards) or 'nothing'}, but the Lighthouse CoreDNS Service's "
                f"clusterIP is {expected}",
                resources=resources,
                evidence=evidence,
                remedy=f"Rewrite the lighthouse block to `forward . {expected}`.",
            )
