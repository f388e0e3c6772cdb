"""GD502's fix: point the external dnsmasq's clusterset.local server at the Lighthouse
clusterIP, then restart the pods that mount its ConfigMap."""

from __future__ import annotations

import re
from collections.abc import Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings, split_name
from globalnet_doctor.facts import dns as dns_config
from globalnet_doctor.facts import objects
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, Safety, Step, updated
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

_DNSMASQ_LINE = re.compile(
    r"^(?P<lead>\s*server=/(?:svc\.)?clusterset\.local/)(?P<ip>[0-9a-fA-F.:]+)(?P<port>#\d+)?",
    re.M,
)
_LIGHTHOUSE_BLOCK = re.compile(r"#lighthouse-start.*?#lighthouse-end\n?", re.S)


def repoint_dnsmasq(text: str, ip: str) -> str:
    """Every clusterset.local server line pointed at ``ip``; every other byte kept."""
    return _DNSMASQ_LINE.sub(lambda m: f"{m['lead']}{ip}{m['port'] or ''}", text)


def with_dnsmasq_line(text: str, ip: str) -> str:
    if _DNSMASQ_LINE.search(text):
        return repoint_dnsmasq(text, ip)
    return f"server=/svc.clusterset.local/{ip}\n{text}"


def lighthouse_block(ip: str) -> str:
    return (
        "#lighthouse-start AUTO-GENERATED SECTION. DO NOT EDIT\n"
        f"clusterset.local:53 {{\n    forward . {ip}\n}}\n#lighthouse-end\n"
    )


def with_lighthouse_forward(corefile: str, ip: str) -> str:
    """The Corefile with its lighthouse block (re)written to forward to ``ip``; if the block is
    missing it is added first, as the Submariner operator writes it."""
    if _LIGHTHOUSE_BLOCK.search(corefile):
        return _LIGHTHOUSE_BLOCK.sub(lambda _: lighthouse_block(ip), corefile, count=1)
    return lighthouse_block(ip) + corefile


def pods_mounting(view: ClusterView, namespace: str, configmap: str) -> list[KubeObject]:
    """Running pods of the Deployments in ``namespace`` whose template mounts the ConfigMap."""
    selectors = []
    for deployment in view.list(kinds.DEPLOYMENTS, namespace):
        template = objects.pod_template_spec(deployment)
        volumes = template.get("volumes") or []
        if any((v.get("configMap") or {}).get("name") == configmap for v in volumes):
            selectors.append(deployment["spec"].get("selector", {}).get("matchLabels") or {})
    pods = []
    for pod in view.list(kinds.PODS, namespace):
        labels = objects.labels(pod)
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if any(s and all(labels.get(k) == v for k, v in s.items()) for s in selectors):
            pods.append(pod)
    return pods


class RepointDnsmasq(Fix):
    id = "GD502"
    title = "point the external dnsmasq at the Lighthouse CoreDNS clusterIP, restart it"
    safety = Safety.DISRUPTIVE
    order = 60

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        namespace, _ = split_name(settings.dnsmasq_configmap, "dnsmasq_configmap")
        return (Read(kinds.DEPLOYMENTS, namespace), Read(kinds.PODS, namespace))

    def plan(self, ctx: FixContext) -> list[Step]:
        view, settings = ctx.cluster, ctx.settings
        namespace, name = split_name(settings.dnsmasq_configmap, "dnsmasq_configmap")
        configmap = view.get(kinds.CONFIGMAPS, name, namespace)
        expected = dns_config.lighthouse_cluster_ip(view, settings)
        if configmap is None or expected is None:
            return []
        data = dict(objects.data(configmap))
        keys = [k for k in data if _DNSMASQ_LINE.search(str(data[k]))] or ["upstreamservers"]
        for key in keys:
            data[key] = with_dnsmasq_line(str(data.get(key, "")), expected)
        if data == objects.data(configmap):
            return []
        steps: list[Step] = [
            KubeChange(
                view.name,
                kinds.CONFIGMAPS,
                namespace,
                name,
                configmap,
                updated(configmap, data=data),
                f"forward clusterset.local to {expected}",
            )
        ]
        for pod in pods_mounting(view, namespace, name):
            steps.append(
                KubeChange(
                    view.name,
                    kinds.PODS,
                    namespace,
                    pod["metadata"]["name"],
                    pod,
                    None,
                    "delete so its Deployment restarts dnsmasq with the new upstream",
                    irreversible=True,
                )
            )
        return steps
