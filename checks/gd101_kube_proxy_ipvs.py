"""GD101: kube-proxy in IPVS mode; Submariner supports only iptables mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.kube_proxy import NAME, NAMESPACE, READS, ipvs_evidence
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref


class KubeProxyIpvs(Check):
    id = "GD101"
    name = "kube-proxy-ipvs"
    title = "kube-proxy runs in iptables mode (Submariner does not support IPVS)"
    severity = Severity.ERROR
    tags = frozenset({"kube-proxy", "cluster"})
    fix = "GD101"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return READS

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        configmap = view.get(kinds.CONFIGMAPS, NAME, NAMESPACE)
        daemonset = view.get(kinds.DAEMONSETS, NAME, NAMESPACE)
        if configmap is None and daemonset is None:
            raise NotApplicable(
                "kube-proxy is not deployed here (no ConfigMap or DaemonSet kube-system/kube-proxy)"
            )
        evidence = ipvs_evidence(view)
        if not evidence:
            return
        resources = [ref(view.name, kinds.CONFIGMAPS, o) for o in (configmap,) if o is not None]
        resources += [ref(view.name, kinds.DAEMONSETS, o) for o in (daemonset,) if o is not None]
        yield self.finding(
            "kube-proxy runs in IPVS mode; Submariner supports only iptables mode",
            resources=resources,
            evidence=evidence,
            remedy=(
                "Set `mode: iptables` in ConfigMap kube-system/kube-proxy (config.conf) and in "
                "--proxy-mode where the DaemonSet passes it, then restart the kube-proxy pods "
                "(kubectl -n kube-system delete pod -l k8s-app=kube-proxy)."
            ),
        )
