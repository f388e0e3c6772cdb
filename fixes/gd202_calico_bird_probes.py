"""Fixes of Calico's encapsulation: GD201 (switch to VXLAN) and GD202 (probes that ask BIRD).

Both change the calico-node DaemonSet's pod template, so the DaemonSet controller restarts
every calico-node pod: that restart is what makes the new configuration effective, and it is
the part no undo can take back (undo restores the template, which rolls the pods once more).

Neither fix implements ``awaiting``: GD201 and GD202 judge the configuration (ConfigMap, the
DaemonSet's template, the pools), never the running pods, so the check passes as soon as the
configuration is right; what must still react (the DaemonSet controller) is named in each
step's reason instead.
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
