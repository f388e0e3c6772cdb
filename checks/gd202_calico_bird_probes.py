"""GD202: calico-node probes still ask BIRD although the backend no longer runs it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts.calico import (
    BIRD_FLAGS,
    BIRDLESS_BACKENDS,
    DAEMONSET,
    NAMESPACE,
    OPERATOR_NAMESPACE,
    PRESENCE_READS,
    calico_node,
    calico_node_containers,
    daemonset_name,
    networking_backend,
    operator_installation,
    require_calico,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import KubeObject

_PROBES = ("livenessProbe", "readinessProbe")


def _command(container: Mapping[str, Any], probe: str) -> list[str]:
    """An exec probe's command as the DaemonSet holds it."""
    return [
        str(part) for part in ((container.get(probe) or {}).get("exec") or {}).get("command") or []
    ]


def probe_words(container: Mapping[str, Any], probe: str) -> list[str]:
    """The words of an exec probe's command (a ``sh -c`` string is split into its words)."""
    return [word for part in _command(container, probe) for word in part.split()]


def bird_flags(container: Mapping[str, Any]) -> dict[str, list[str]]:
    """probe -> the BIRD flags its command passes (``-bird-live``, ``--bird-ready``, ...)."""
    found: dict[str, list[str]] = {}
    for probe in _PROBES:
        words = probe_words(container, probe)
        flags = [w for w in words if w.startswith("-") and "-" + w.lstrip("-") in BIRD_FLAGS]
        if flags:
            found[probe] = flags
    return found


class CalicoBirdProbes(Check):
    id = "GD202"
    name = "calico-bird-probes"
    title = "calico-node probes do not ask BIRD when the backend runs no BIRD"
    severity = Severity.ERROR
    tags = frozenset({"calico", "cni", "cluster"})
    explains = frozenset({"GD001", "GD402", "GD503", "GD603"})
    fix = "GD202"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return PRESENCE_READS

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        require_calico(view)
        daemonset = calico_node(view)
        if daemonset is None:
            raise NotApplicable(
                f"no DaemonSet {DAEMONSET} in {NAMESPACE} or {OPERATOR_NAMESPACE}, so no probes "
                "to judge"
            )
        backend = networking_backend(view)
        if backend.effective not in BIRDLESS_BACKENDS:
            return  # BIRD runs, so its probes are right
        for container in calico_node_containers(daemonset):
            flags = bird_flags(container)
            if not flags:
                continue
            name = str(container.get("name", ""))
            words = sorted({w for found in flags.values() for w in found})
            yield self.finding(
                f"calico-node probes still pass {' '.join(words)} although the backend is "
                f"{backend.effective} (a migration from BIRD left half done): BIRD does not "
                "run, so calico-node never becomes ready",
                resources=[ref(view.name, kinds.DAEMONSETS, daemonset)],
                evidence={
                    "calicoBackend": backend.value,
                    "backendSource": backend.source,
                    "container": name,
                    **{probe: _command(container, probe) for probe in flags},
                },
                remedy=_remedy(daemonset, words, flags, name),
            )


def _remedy(
    daemonset: KubeObject, words: Sequence[str], flags: Mapping[str, object], container: str
) -> str:
    installation = operator_installation(daemonset)
    if installation is not None:
        return (
            f"calico-node is the Tigera operator's ({installation}), which writes these probes "
            "from the backend it configures and reverts edits to the DaemonSet: make the "
            f"Installation's spec.calicoNetwork.bgp agree with the backend (Disabled for "
            "VXLAN), or upgrade the operator if it already does."
        )
    return (
        f"Remove only {' and '.join(words)} from the {' and '.join(flags)} command of container "
        f"{container} in DaemonSet {daemonset_name(daemonset)}; keep the -felix-* flags."
    )
