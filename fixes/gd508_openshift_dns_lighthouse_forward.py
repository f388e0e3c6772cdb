"""Fix of GD508: the ``lighthouse`` servers of OpenShift's DNS operator, as Submariner's operator
computes them (or, on MicroShift, the Corefile's lighthouse block)."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import dns as dns_config
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated
from globalnet_doctor.view import InputUnavailable


class RewriteOpenshiftLighthouseServers(Fix):
    id = "GD508"
    title = "forward the Lighthouse domains to the Lighthouse clusterIP in OpenShift's DNS"
    safety = Safety.SAFE
    order = 60

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        expected = dns_config.lighthouse_cluster_ip(view, settings)
        if expected is None:
            return []
        try:
            operator = view.get(kinds.OPENSHIFT_DNSES, dns_config.OPENSHIFT_DNS_NAME)
        except InputUnavailable:
            operator = None
        domains = dns_config.lighthouse_domains(dns_config.service_discovery(view, settings))
        if operator is not None:
            servers = dns_config.openshift_servers_wanted(operator, domains, expected)
            if servers == list(objects.spec(operator).get("servers") or []):
                return []
            after = updated(operator, spec={**objects.spec(operator), "servers": servers})
            why = f"servers named lighthouse: {', '.join(domains)} -> {expected}"
            return [
                KubeChange(
                    view.name,
                    kinds.OPENSHIFT_DNSES,
                    None,
                    dns_config.OPENSHIFT_DNS_NAME,
                    operator,
                    after,
                    why,
                )
            ]
        namespace = dns_config.MICROSHIFT_DNS_NAMESPACE
        name = dns_config.MICROSHIFT_DNS_CONFIGMAP
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        if configmap is None:
            return []
        data = dict(objects.data(configmap))
        corefile = str(data.get(dns_config.COREFILE_KEY, ""))
        data[dns_config.COREFILE_KEY] = dns_config.corefile_with_lighthouse(
            corefile, domains, expected
        )
        if data[dns_config.COREFILE_KEY] == corefile:
            return []
        return [
            KubeChange(
                view.name,
                kinds.CONFIGMAPS,
                namespace,
                name,
                configmap,
                updated(configmap, data=data),
                f"lighthouse block: {', '.join(domains)} forward . {expected}",
            )
        ]
