"""GD202's fix: drop the BIRD flags from calico-node's probes once BIRD no longer runs.

It changes the calico-node DaemonSet's pod template, so every calico-node pod restarts (the
part no undo can take back). No ``awaiting``: GD202 judges the template, never the pods.
"""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import calico as _calico
from globalnet_doctor.facts.calico import BIRDLESS_BACKENDS
from globalnet_doctor.fixspec import Fix, FixContext, Safety, Step, updated

from .gd201_calico_not_vxlan import (
    _containers,
    _refuse_operator_managed,
    _update,
    drop_bird_probe_flags,
)


class DropBirdProbeFlags(Fix):
    """Disruptive rather than safe: the edit is to the pod template, so the DaemonSet
    controller restarts every calico-node pod, one node at a time, to apply it."""

    id = "GD202"
    title = "remove -bird-live / -bird-ready from the calico-node probes"
    safety = Safety.DISRUPTIVE
    order = 25
    """After GD201, whose switch to VXLAN is what makes these flags wrong."""

    def plan(self, ctx: FixContext) -> list[Step]:
        view = ctx.cluster
        daemonset = _calico.calico_node(view)
        if daemonset is None:
            return []
        if _calico.networking_backend(view).effective not in BIRDLESS_BACKENDS:
            return []  # BIRD runs: its probes are right
        _refuse_operator_managed(view, "edit calico-node's probes")
        after = updated(daemonset)
        for container in _containers(after):
            drop_bird_probe_flags(container)
        if after["spec"]["template"] == daemonset["spec"]["template"]:
            return []
        why = (
            "remove -bird-live / -bird-ready from the probe commands (BIRD does not run); "
            "the DaemonSet controller then restarts every calico-node pod"
        )
        return [_update(view.name, kinds.DAEMONSETS, daemonset, after, why)]
