"""GD101: kube-proxy in IPVS mode; Submariner supports only iptables mode."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, KubeObject

NAMESPACE = "kube-system"
NAME = "kube-proxy"
CONFIG_KEY = "config.conf"
POD_SELECTOR = "k8s-app=kube-proxy"

READS = (
    Read(kinds.CONFIGMAPS, NAMESPACE, NAME),
    Read(kinds.DAEMONSETS, NAMESPACE, NAME),
    Read(kinds.PODS, NAMESPACE, label_selector=POD_SELECTOR),
)


def configured_mode(configmap: KubeObject) -> str | None:
    """``mode`` of the ConfigMap's config.conf; None when absent or not YAML."""
    text = (configmap.get("data") or {}).get(CONFIG_KEY)
    if not isinstance(text, str):
        return None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    mode = config.get("mode") if isinstance(config, dict) else None
    return str(mode) if mode else None


def proxy_mode_args(containers: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every ``--proxy-mode`` value passed in the containers' command or args."""
    modes: list[str] = []
    for container in containers:
        words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
        for index, word in enumerate(words):
            if word.startswith("--proxy-mode="):
                modes.append(word.split("=", 1)[1])
            elif word == "--proxy-mode" and index + 1 < len(words):
                modes.append(words[index + 1])
    return modes


def ipvs_evidence(view: ClusterView) -> dict[str, Any]:
    """Where the cluster says kube-proxy runs in IPVS mode; empty when nowhere.

    Shared with the checks that name kube-proxy as a root cause (GD402).
    """
    evidence: dict[str, Any] = {}
    configmap = view.get(kinds.CONFIGMAPS, NAME, NAMESPACE)
    if configmap is not None and configured_mode(configmap) == "ipvs":
        evidence["configMapMode"] = "ipvs"
    daemonset = view.get(kinds.DAEMONSETS, NAME, NAMESPACE)
    if daemonset is not None:
        template = daemonset.get("spec", {}).get("template", {}).get("spec", {})
        if "ipvs" in proxy_mode_args(template.get("containers") or []):
            evidence["daemonSetProxyMode"] = "ipvs"
    ipvs_pods = sorted(
        pod["metadata"]["name"]
        for pod in view.list(kinds.PODS, NAMESPACE, POD_SELECTOR)
        # A pod being deleted is on its way out; its replacement gets the current template.
        if not pod["metadata"].get("deletionTimestamp")
        and "ipvs" in proxy_mode_args(pod.get("spec", {}).get("containers") or [])
    )
    if ipvs_pods:
        evidence["podsWithProxyModeIpvs"] = ipvs_pods
    return evidence


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
