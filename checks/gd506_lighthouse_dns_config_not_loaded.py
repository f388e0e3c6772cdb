"""GD506: the running CoreDNS loads the configuration Submariner's operator writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.dns import (
    COREDNS_NAMESPACE,
    CUSTOM_CONFIG_KEY,
    coredns_config,
    coredns_reads,
    corefile_imports,
    custom_config,
    imported_by,
    operator_coredns_target,
    require_service_discovery,
)
from globalnet_doctor.facts.submariner import submariner_cr
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class LighthouseDnsConfigNotLoaded(Check):
    id = "GD506"
    name = "lighthouse-dns-config-not-loaded"
    title = "CoreDNS loads the configuration Submariner writes for clusterset.local"
    severity = Severity.ERROR
    tags = frozenset({"dns", "cluster"})
    explains = frozenset({"GD503", "GD504"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return coredns_reads(settings)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        discovery = require_service_discovery(view, settings)
        config = coredns_config(view)
        if config is None:
            raise NotApplicable(
                f"no Deployment in {COREDNS_NAMESPACE} runs CoreDNS (kube-dns: GD507; "
                "OpenShift: GD508)"
            )
        deployment = f"{COREDNS_NAMESPACE}/{objects.name(config.deployment)}"
        if config.configmap_name is None:
            raise NotApplicable(
                f"Deployment {deployment} does not load its Corefile from a ConfigMap"
            )
        loaded = f"{COREDNS_NAMESPACE}/{config.configmap_name}"
        resources = [ref(view.name, kinds.DEPLOYMENTS, config.deployment)]
        custom = custom_config(discovery, submariner_cr(view, settings))
        if custom is None:
            writes = operator_coredns_target(view)
            evidence: dict[str, object] = {
                "deployment": deployment,
                "loadsConfigMap": loaded,
                "operatorWritesConfigMap": f"{COREDNS_NAMESPACE}/{writes}" if writes else None,
                "coreDNSCustomConfig": None,
            }
            if writes == config.configmap_name:
                return
            where = (
                f"its lighthouse block into {COREDNS_NAMESPACE}/{writes}"
                if writes
                else f"nothing (no ConfigMap {COREDNS_NAMESPACE}/coredns or *-coredns)"
            )
            yield self.finding(
                f"Submariner's operator writes {where}, but CoreDNS (Deployment {deployment}) "
                f"loads {loaded}: clusterset.local is never forwarded to Lighthouse",
                resources=resources,
                evidence=evidence,
                remedy=(
                    "Make CoreDNS load a Lighthouse server block: on RKE2 add a "
                    "`clusterset.local:53 { forward . <Lighthouse clusterIP> }` server through a "
                    "HelmChartConfig for rke2-coredns; where the Corefile imports `*.server` from "
                    "a mounted ConfigMap, join with `subctl join --coredns-custom-configmap "
                    "<namespace>/<name>` so the operator writes there."
                ),
            )
            return
        namespace, name = custom
        corefile = ""
        loaded_map = view.get(kinds.CONFIGMAPS, config.configmap_name, COREDNS_NAMESPACE)
        if loaded_map is not None:
            corefile = str(objects.data(loaded_map).get(config.key, ""))
        imports = corefile_imports(corefile)
        path = config.file_of(name, CUSTOM_CONFIG_KEY) if namespace == COREDNS_NAMESPACE else None
        importing = imported_by(path, imports, config.directory) if path else None
        evidence = {
            "deployment": deployment,
            "loadsConfigMap": loaded,
            "coreDNSCustomConfig": f"{namespace}/{name}",
            "mountedAt": path,
            "imports": imports,
        }
        if importing is not None:
            return
        if path is None:
            why = (
                f"Deployment {deployment} does not mount its {CUSTOM_CONFIG_KEY} key"
                if namespace == COREDNS_NAMESPACE
                else f"a Deployment in {COREDNS_NAMESPACE} cannot mount a ConfigMap of {namespace}"
            )
        else:
            why = f"{loaded} has no import matching {path}"
        yield self.finding(
            f"Submariner's operator writes {CUSTOM_CONFIG_KEY} into {namespace}/{name} "
            f"(coreDNSCustomConfig), but CoreDNS never loads it: {why}",
            resources=resources,
            evidence=evidence,
            remedy=(
                f"Mount ConfigMap {name} in the CoreDNS Deployment (as k3s and AKS mount "
                "coredns-custom at /etc/coredns/custom) and add `import <mount>/*.server` to the "
                "Corefile, or point coreDNSCustomConfig at the ConfigMap CoreDNS already imports; "
                "a new imported key may need a CoreDNS restart."
            ),
        )
