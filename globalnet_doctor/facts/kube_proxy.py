"""kube-proxy's mode: what its ConfigMap, DaemonSet and pods say (GD101 judges it, GD402 names
it as a root cause, GD101's fix rewrites it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects
from globalnet_doctor.kinds import Read
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
    text = objects.data(configmap).get(CONFIG_KEY)
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
        template = objects.pod_template_spec(daemonset)
        if "ipvs" in proxy_mode_args(template.get("containers") or []):
            evidence["daemonSetProxyMode"] = "ipvs"
    ipvs_pods = sorted(
        pod["metadata"]["name"]
        for pod in view.list(kinds.PODS, NAMESPACE, POD_SELECTOR)
        # A pod being deleted is on its way out; its replacement gets the current template.
        if not pod["metadata"].get("deletionTimestamp")
        and "ipvs" in proxy_mode_args(objects.spec(pod).get("containers") or [])
    )
    if ipvs_pods:
        evidence["podsWithProxyModeIpvs"] = ipvs_pods
    return evidence
