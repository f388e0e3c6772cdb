"""GD205: Submariner detected the ``generic`` network plugin where another CNI is visibly installed.

The Submariner operator detects the CNI once, when it starts (``pkg/discovery/network``: OpenShift
4, OVN-Kubernetes by pods ``app=ovnkube-node``, weave, canal, Calico by a ConfigMap
``calico-config`` or, from 0.16.0, a DaemonSet ``calico-node`` in any namespace, flannel, kindnet;
else ``generic``), caches the answer and writes it to the Submariner CR's
``status.networkPlugin``. The route agent runs only the handlers registered for that plugin, so
``generic`` on a Calico or OVN-Kubernetes cluster silently leaves out what those need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.calico import (
    CONFIGMAP,
    DAEMONSET,
    NAMESPACE,
    PRESENCE_READS,
    calico_config,
    calico_node,
    daemonset_name,
)
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, InputUnavailable

GENERIC = "generic"
OVN_NODE_SELECTOR = "app=ovnkube-node"
"""How the operator finds OVN-Kubernetes (``ovnkubernetes.go``: ``FindPod``)."""
CILIUM_NAMESPACE = "kube-system"
CILIUM_DAEMONSET = "cilium"


@dataclass(frozen=True, slots=True)
class _Seen:
    plugin: str
    severity: Severity
    what: str
    consequence: str
    resources: tuple[ResourceRef, ...]


def _calico(view: ClusterView) -> _Seen | None:
    configmap = calico_config(view)
    daemonset = calico_node(view)
    if configmap is None and daemonset is None:
        return None
    seen: list[str] = []
    resources: list[ResourceRef] = []
    if configmap is not None:
        seen.append(f"ConfigMap {NAMESPACE}/{CONFIGMAP}")
        resources.append(ref(view.name, kinds.CONFIGMAPS, configmap))
    if daemonset is not None:
        seen.append(f"DaemonSet {daemonset_name(daemonset)}")
        resources.append(ref(view.name, kinds.DAEMONSETS, daemonset))
    return _Seen(
        "calico",
        Severity.ERROR,
        " and ".join(seen),
        "the route agent's Calico handler never runs (it registers for the calico plugin only): "
        "no IPPools are created for the remote clusters (GD203) and the IBM ROKS workaround is "
        "not applied. Operators before 0.16.0 find Calico only by a ConfigMap calico-config, "
        "which Tigera-operator installs lack",
        tuple(resources),
    )


def _ovn(view: ClusterView) -> _Seen | None:
    try:
        pods = view.list(kinds.PODS, label_selector=OVN_NODE_SELECTOR)
    except InputUnavailable:
        return None
    if not pods:
        return None
    names = sorted(
        f"{objects.metadata(p).get('namespace', '')}/{objects.metadata(p).get('name', '')}"
        for p in pods
    )
    return _Seen(
        "OVNKubernetes",
        Severity.ERROR,
        f"pods {OVN_NODE_SELECTOR} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})",
        "the route agent's OVN-Kubernetes handlers never run, so cross-cluster traffic is not "
        "routed into OVN",
        tuple(ref(view.name, kinds.PODS, p) for p in pods[:3]),
    )


def _cilium(view: ClusterView) -> _Seen | None:
    daemonset = view.get(kinds.DAEMONSETS, CILIUM_DAEMONSET, CILIUM_NAMESPACE)
    if daemonset is None:
        return None
    return _Seen(
        "cilium",
        Severity.WARNING,
        f"DaemonSet {CILIUM_NAMESPACE}/{CILIUM_DAEMONSET}",
        "Submariner has no Cilium-specific handling and Cilium is not among the plugins subctl "
        "supports: whether generic works depends on Cilium's own settings (kube-proxy "
        "replacement, masquerading)",
        (ref(view.name, kinds.DAEMONSETS, daemonset),),
    )


class CniDetectedGeneric(Check):
    id = "GD205"
    name = "cni-detected-generic"
    title = "Submariner detected the network plugin that is installed, not generic"
    severity = Severity.WARNING
    tags = frozenset({"cni", "calico", "cluster"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *PRESENCE_READS,
            Read(kinds.PODS, label_selector=OVN_NODE_SELECTOR),
            Read(kinds.DAEMONSETS, CILIUM_NAMESPACE, CILIUM_DAEMONSET),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        cr = require_submariner(view, ctx.settings)
        plugin = str(objects.status(cr).get("networkPlugin") or "")
        if not plugin:
            raise NotApplicable(
                "the Submariner CR has no status.networkPlugin yet: the operator has not "
                "detected the network plugin (see GD001 and GD002)"
            )
        if plugin.strip().lower() != GENERIC:
            return
        for seen in filter(None, (_calico(view), _ovn(view), _cilium(view))):
            evidence: dict[str, Any] = {
                "networkPlugin": plugin,
                "installedPlugin": seen.plugin,
                "seen": seen.what,
                "submarinerVersion": submariner.version_text(cr),
            }
            yield self.finding(
                f"Submariner's status.networkPlugin is {plugin} but {seen.plugin} is installed "
                f"({seen.what}): {seen.consequence}",
                resources=[ref(view.name, kinds.SUBMARINERS, cr), *seen.resources],
                evidence=evidence,
                remedy=(
                    "The operator detects the plugin only when it starts and caches the answer. "
                    "Upgrade the Submariner operator to 0.16.0 or later if it is older (it then "
                    f"also finds a DaemonSet {DAEMONSET} in any namespace), then restart the "
                    "operator pod (`kubectl -n submariner-operator rollout restart deployment "
                    "submariner-operator`) so it detects again and redeploys the route agent "
                    "(disruptive: the route agents restart)."
                    if seen.plugin == "calico"
                    else "Restart the Submariner operator pod (`kubectl -n submariner-operator "
                    "rollout restart deployment submariner-operator`) so it detects the plugin "
                    "again; if it still says generic, report it upstream with the operator's log."
                ),
                severity=seen.severity,
            )
