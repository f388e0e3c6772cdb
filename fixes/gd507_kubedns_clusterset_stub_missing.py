"""Fix of GD507: merge the Lighthouse domains into kube-dns's ``stubDomains``."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import dns as dns_config
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated


class MergeKubeDnsStubDomains(Fix):
    id = "GD507"
    title = "map the Lighthouse domains to the Lighthouse clusterIP in kube-dns stubDomains"
    safety = Safety.SAFE
    order = 60

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        expected = dns_config.lighthouse_cluster_ip(view, settings)
        if expected is None or dns_config.kube_dns_deployment(view) is None:
            return []
        namespace, name = dns_config.COREDNS_NAMESPACE, dns_config.KUBE_DNS_CONFIGMAP
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        if dns_config.stub_domains(configmap) is None:
            return []  # not JSON: a person must repair it, gdoctor does not guess
        domains = dns_config.lighthouse_domains(dns_config.service_discovery(view, settings))
        data = dict(objects.data(configmap))
        before = data.get(dns_config.STUB_DOMAINS_KEY)
        data[dns_config.STUB_DOMAINS_KEY] = dns_config.with_stub_domains(
            None if before is None else str(before), domains, expected
        )
        why = f"stubDomains {', '.join(domains)} -> {expected}"
        if configmap is None:
            after = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    # As the GKE quickstart creates it: the addon manager keeps, never reverts.
                    "labels": {dns_config.ADDON_MODE_LABEL: "EnsureExists"},
                },
                "data": data,
            }
            return [KubeChange(view.name, kinds.CONFIGMAPS, namespace, name, None, after, why)]
        if not dns_config.stub_domains_problems(
            dns_config.stub_domains(configmap) or {}, domains, expected
        ):
            return []
        return [
            KubeChange(
                view.name,
                kinds.CONFIGMAPS,
                namespace,
                name,
                configmap,
                updated(configmap, data=data),
                why,
            )
        ]
