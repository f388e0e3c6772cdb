"""GD101: kube-proxy in IPVS mode; Submariner supports only iptables mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.kube_proxy import (
    NAME,
    NAMESPACE,
    READS,
    ipvs_evidence,
    is_static_pod,
    kube_proxy_pods,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class KubeProxyIpvs(Check):
    id = "GD101"
    name = "kube-proxy-ipvs"
    title = "kube-proxy runs in iptables mode (Submariner does not support IPVS)"
    severity = Severity.ERROR
    tags = frozenset({"kube-proxy", "cluster"})
    explains = frozenset({"GD402", "GD503", "GD603"})
    fix = "GD101"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return READS

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        configmap = view.get(kinds.CONFIGMAPS, NAME, NAMESPACE)
        daemonset = view.get(kinds.DAEMONSETS, NAME, NAMESPACE)
        pods = kube_proxy_pods(view)
        if configmap is None and daemonset is None and not pods:
            raise NotApplicable(
                "kube-proxy is not deployed here (no ConfigMap or DaemonSet "
                "kube-system/kube-proxy, no pod labelled k8s-app=kube-proxy or "
                "component=kube-proxy)"
            )
        evidence = ipvs_evidence(view)
        if not evidence:
            return
        resources = [ref(view.name, kinds.CONFIGMAPS, o) for o in (configmap,) if o is not None]
        resources += [ref(view.name, kinds.DAEMONSETS, o) for o in (daemonset,) if o is not None]
        static = [p for p in pods if is_static_pod(p)]
        resources += [ref(view.name, kinds.PODS, p) for p in static]
        remedy = (
            "Set `mode: iptables` in ConfigMap kube-system/kube-proxy (config.conf) and in "
            "--proxy-mode where the DaemonSet passes it, then restart the kube-proxy pods "
            "(kubectl -n kube-system delete pod -l k8s-app=kube-proxy, or -l "
            "component=kube-proxy on AKS)."
        )
        if "staticPodsWithProxyModeIpvs" in evidence:
            remedy = (
                "kube-proxy runs as static pods (RKE2): their flags come from the node's "
                "configuration, not the API. Set `kube-proxy-arg: [proxy-mode=iptables]` in "
                "/etc/rancher/rke2/config.yaml on every node and restart rke2-server/rke2-agent."
            )
        yield self.finding(
            "kube-proxy runs in IPVS mode; Submariner supports only iptables mode",
            resources=resources,
            evidence=evidence,
            remedy=remedy,
        )
