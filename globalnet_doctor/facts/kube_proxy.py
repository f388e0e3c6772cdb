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
COMPONENT_SELECTOR = "component=kube-proxy"
"""AKS labels its kube-proxy DaemonSet's pods ``component: kube-proxy`` (and ``tier: node``);
RKE2 runs kube-proxy as a static pod labelled ``component: kube-proxy``, ``tier: control-plane``
(``rke2:pkg/staticpod``), seen as mirror pods ``kube-proxy-<node>`` with no DaemonSet."""
READS = (
    Read(kinds.CONFIGMAPS, NAMESPACE, NAME),
    Read(kinds.DAEMONSETS, NAMESPACE, NAME),
    Read(kinds.PODS, NAMESPACE, label_selector=POD_SELECTOR),
    Read(kinds.PODS, NAMESPACE, label_selector=COMPONENT_SELECTOR),
)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
"""The kubelet's mark on the API copy of a static pod (deleting it restarts nothing)."""


def kube_proxy_pods(view: ClusterView) -> list[KubeObject]:
    """The kube-proxy pods under either label, once each, without those being deleted (a pod
    being deleted is on its way out; its replacement gets the current template)."""
    found: dict[str, KubeObject] = {}
    for selector in (POD_SELECTOR, COMPONENT_SELECTOR):
        for pod in view.list(kinds.PODS, NAMESPACE, selector):
            if not objects.metadata(pod).get("deletionTimestamp"):
                found.setdefault(objects.name(pod), pod)
    return [found[name] for name in sorted(found)]


def is_static_pod(pod: KubeObject) -> bool:
    """Whether the pod is the API mirror of a static pod (its manifest is a file on the node)."""
    if MIRROR_ANNOTATION in objects.annotations_of(pod):
        return True
    owners = objects.metadata(pod).get("ownerReferences") or []
    return any(isinstance(o, Mapping) and o.get("kind") == "Node" for o in owners)


def ipvs_pods(view: ClusterView) -> list[KubeObject]:
    """The kube-proxy pods started with ``--proxy-mode ipvs``."""
    return [
        pod
        for pod in kube_proxy_pods(view)
        if "ipvs" in proxy_mode_args(objects.spec(pod).get("containers") or [])
    ]


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
    pods = ipvs_pods(view)
    if pods:
        evidence["podsWithProxyModeIpvs"] = [objects.name(p) for p in pods]
    static = [objects.name(p) for p in pods if is_static_pod(p)]
    if static:
        evidence["staticPodsWithProxyModeIpvs"] = static
    return evidence
