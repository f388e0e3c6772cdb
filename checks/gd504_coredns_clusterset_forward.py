"""GD504: the cluster's own CoreDNS forwards ``clusterset.local`` to the Lighthouse CoreDNS
Service's clusterIP, in the Corefile CoreDNS actually loads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.dns import (
    LIGHTHOUSE_MISSING_REMEDY,
    addon_managed,
    coredns_reads,
    corefile_clusterset_forwards,
    lighthouse_cluster_ip,
    lighthouse_missing,
    lighthouse_target,
    require_service_discovery,
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
        return coredns_reads(settings)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        discovery = require_service_discovery(view, settings)
        target = lighthouse_target(view, settings, discovery)
        namespace, name, key = target.namespace, target.name, target.key
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        if configmap is None:
            raise NotApplicable(f"no CoreDNS ConfigMap {namespace}/{name} (not CoreDNS?)")
        expected = lighthouse_cluster_ip(view, settings)
        managed = None if target.custom else addon_managed(configmap)
        reverted = f" An edit here is reverted: {managed}." if managed else ""
        forwards = corefile_clusterset_forwards(str(objects.data(configmap).get(key, "")))
        resources = [ref(view.name, kinds.CONFIGMAPS, configmap)]
        evidence = {
            "configMap": f"{namespace}/{name}",
            "key": key,
            "clustersetForwards": forwards,
            "lighthouseClusterIP": expected,
            "revertedBy": managed,
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
                f"#lighthouse-start and #lighthouse-end.{reverted}",
            )
        elif forwards != [expected]:
            yield self.finding(
                f"{namespace}/{name} forwards clusterset.local to "
                f"{', '.join(forwards) or 'nothing'}, but the Lighthouse CoreDNS Service's "
                f"clusterIP is {expected}",
                resources=resources,
                evidence=evidence,
                remedy=f"Rewrite the lighthouse block to `forward . {expected}`.{reverted}",
            )
