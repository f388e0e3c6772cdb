"""Fixes of the DNS configuration: GD502 (external dnsmasq) and GD504 (cluster CoreDNS)."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import dns as dns_config
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated

from .gd502_dnsmasq_upstream_stale import (
    with_lighthouse_forward,
)


class RewriteLighthouseBlock(Fix):
    id = "GD504"
    title = "rewrite the Corefile's lighthouse block to forward to the Lighthouse clusterIP"
    safety = Safety.SAFE
    order = 60

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        configmap = view.get(
            kinds.CONFIGMAPS, dns_config.COREDNS_CONFIGMAP, dns_config.COREDNS_NAMESPACE
        )
        expected = dns_config.lighthouse_cluster_ip(view, settings)
        if configmap is None or expected is None:
            return []
        data = dict(objects.data(configmap))
        corefile = str(data.get(dns_config.COREFILE_KEY, ""))
        data[dns_config.COREFILE_KEY] = with_lighthouse_forward(corefile, expected)
        if data[dns_config.COREFILE_KEY] == corefile:
            return []
        return [
            KubeChange(
                view.name,
                kinds.CONFIGMAPS,
                dns_config.COREDNS_NAMESPACE,
                dns_config.COREDNS_CONFIGMAP,
                configmap,
                updated(configmap, data=data),
                f"clusterset.local:53 forward . {expected}",
            )
        ]
