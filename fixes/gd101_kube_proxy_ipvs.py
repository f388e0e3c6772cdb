"""GD101's fix: kube-proxy to iptables mode, then restart its pods."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import kube_proxy, objects
from globalnet_doctor.fixspec import (
    Fix,
    FixContext,
    KubeChange,
    PlanError,
    Safety,
    Step,
    updated,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import KubeObject

_MODE_LINE = re.compile(
    r"^(?P<indent>\s*)mode:\s*(?P<quote>[\"']?)ipvs(?P=quote)(?P<rest>\s*(#.*)?)$", re.M
)


def iptables_config(text: str) -> str:
    """config.conf with only the top-level ``mode`` value changed, every other byte kept."""
    return _MODE_LINE.sub(
        lambda m: (
            f"{m['indent']}mode: {m['quote']}iptables{m['quote']}{m['rest']}"
            if not m["indent"]
            else m[0]
        ),
        text,
    )


def iptables_args(words: Sequence[Any]) -> list[Any]:
    """A container's command or args with every ``--proxy-mode`` set to iptables."""
    fixed = list(words)
    for index, word in enumerate(fixed):
        if str(word) == "--proxy-mode=ipvs":
            fixed[index] = "--proxy-mode=iptables"
        elif str(word) == "--proxy-mode" and index + 1 < len(fixed) and fixed[index + 1] == "ipvs":
            fixed[index + 1] = "iptables"
    return fixed


def _without_ipvs_flags(template_spec: dict[str, Any]) -> bool:
    changed = False
    for container in template_spec.get("containers") or []:
        for key in ("command", "args"):
            if key in container:
                new = iptables_args(container[key])
                changed |= new != container[key]
                container[key] = new
    return changed


class KubeProxyToIptables(Fix):
    id = "GD101"
    title = "set kube-proxy to iptables mode and restart its pods"
    safety = Safety.DISRUPTIVE
    order = 10

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        reads: Sequence[Read] = kube_proxy.READS
        return reads

    def plan(self, ctx: FixContext) -> list[Step]:
        view = ctx.cluster
        steps: list[Step] = []
        configmap = view.get(kinds.CONFIGMAPS, kube_proxy.NAME, kube_proxy.NAMESPACE)
        if configmap is not None and kube_proxy.configured_mode(configmap) == "ipvs":
            data = dict(objects.data(configmap))
            data[kube_proxy.CONFIG_KEY] = iptables_config(data[kube_proxy.CONFIG_KEY])
            steps.append(
                self._update(
                    view.name,
                    kinds.CONFIGMAPS,
                    configmap,
                    updated(configmap, data=data),
                    "config.conf mode: ipvs -> iptables",
                )
            )
        daemonset = view.get(kinds.DAEMONSETS, kube_proxy.NAME, kube_proxy.NAMESPACE)
        if daemonset is not None:
            after = updated(daemonset)
            if _without_ipvs_flags(after["spec"]["template"]["spec"]):
                steps.append(
                    self._update(
                        view.name,
                        kinds.DAEMONSETS,
                        daemonset,
                        after,
                        "--proxy-mode ipvs -> iptables in the pod template",
                    )
                )
        static = [p for p in kube_proxy.ipvs_pods(view) if kube_proxy.is_static_pod(p)]
        if static:
            raise PlanError(
                f"kube-proxy runs as static pods ({', '.join(objects.name(p) for p in static)}): "
                "their --proxy-mode comes from a manifest on each node, which gdoctor cannot "
                "edit through the API; on RKE2 set `kube-proxy-arg: [proxy-mode=iptables]` in "
                "/etc/rancher/rke2/config.yaml and restart rke2"
            )
        if steps:
            # Restarting the pods is what makes the new mode effective; it is planned only in
            # the run that changed the configuration, and cannot be undone.
            for pod in kube_proxy.kube_proxy_pods(view):
                if kube_proxy.is_static_pod(pod):
                    continue  # the kubelet recreates a mirror pod as it was: nothing to restart
                steps.append(
                    KubeChange(
                        cluster=view.name,
                        kind=kinds.PODS,
                        namespace=kube_proxy.NAMESPACE,
                        name=pod["metadata"]["name"],
                        before=pod,
                        after=None,
                        why="delete so the DaemonSet restarts it with the new mode",
                        irreversible=True,
                    )
                )
        return steps

    @staticmethod
    def _update(
        cluster: str, kind: kinds.Kind, before: KubeObject, after: Any, why: str
    ) -> KubeChange:
        metadata = before["metadata"]
        return KubeChange(
            cluster, kind, metadata.get("namespace"), metadata["name"], before, after, why
        )
