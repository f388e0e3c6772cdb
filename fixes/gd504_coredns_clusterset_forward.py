"""GD504's fix: rewrite the Corefile's lighthouse block (the section Submariner's operator
writes) to forward clusterset.local to the Lighthouse clusterIP."""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import dns as dns_config
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated


class RewriteLighthouseBlock(Fix):
    id = "GD504"
    title = "rewrite the Corefile's lighthouse block to forward to the Lighthouse clusterIP"
    safety = Safety.SAFE
    order = 60

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        discovery = dns_config.service_discovery(view, settings)
        target = dns_config.lighthouse_target(view, settings, discovery)
        configmap = view.get(kinds.CONFIGMAPS, target.name, target.namespace)
        expected = dns_config.lighthouse_cluster_ip(view, settings)
        if configmap is None or expected is None:
            return []
        domains = dns_config.lighthouse_domains(discovery)
        data = dict(objects.data(configmap))
        before = str(data.get(target.key, ""))
        port = "53" if target.custom else dns_config.corefile_port(before)
        if target.custom:
            data[target.key] = dns_config.custom_server_blocks(domains, expected)
        else:
            data[target.key] = dns_config.corefile_with_lighthouse(before, domains, expected)
        if data[target.key] == before:
            return []
        reverted_by = None if target.custom else dns_config.addon_managed(configmap)
        if reverted_by is not None:
            raise PlanError(
                f"{target.namespace}/{target.name} would not keep the edit: {reverted_by}"
            )
        return [
            KubeChange(
                view.name,
                kinds.CONFIGMAPS,
                target.namespace,
                target.name,
                configmap,
                updated(configmap, data=data),
                f"{', '.join(f'{d}:{port}' for d in domains)} forward . {expected}",
            )
        ]
