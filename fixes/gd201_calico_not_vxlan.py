"""GD201's fix: switch Calico to VXLAN Always (ConfigMap backend, calico-node env, pools).

It changes the calico-node DaemonSet's pod template, so the DaemonSet controller restarts every
calico-node pod: that restart is what makes the new configuration effective, and it is the part
no undo can take back (undo restores the template, which rolls the pods once more). No
``awaiting``: GD201 judges the configuration, never the running pods, so it passes as soon as
the configuration is right; each step's reason names the controller that must still react.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.facts import calico as _calico
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.calico import BIRD_FLAGS, BIRDLESS_BACKENDS, IPIP_ENV
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated
from globalnet_doctor.view import ClusterView, KubeObject

VXLAN_ENV = "CALICO_IPV4POOL_VXLAN"
VXLAN = "vxlan"
BGP = "bird"
RESTART_ANNOTATION = "gdoctor/calico-backend"
"""Set on calico-node's pod template when only the ConfigMap changed, so the DaemonSet
controller restarts the pods (calico-node reads calico_backend only when it starts)."""
PROBES = ("livenessProbe", "readinessProbe")
_WHITESPACE = re.compile(r"(\s+)")


def _normalised_flag(word: str) -> str:
    return "-" + word.lstrip("-")


def _is_bird_flag(word: str) -> bool:
    return word.startswith("-") and _normalised_flag(word) in BIRD_FLAGS


def _felix_counterpart(bird_flag: str) -> str:
    """``-bird-ready`` -> ``-felix-ready``, dashes kept as written."""
    return bird_flag.replace("bird-", "felix-", 1)


def without_bird_flags(command: Sequence[Any]) -> list[Any]:
    """An exec probe command without its BIRD flags, every other word and byte kept (a
    ``sh -c`` string keeps its spacing; a part that held only the flag goes).

    A BIRD flag whose Felix counterpart the command lacks is replaced by that counterpart
    instead of removed: ``calico-node`` with no check flag at all would fail the probe.
    """
    present = {_normalised_flag(word) for part in command for word in str(part).split()}
    fixed: list[Any] = []
    for part in command:
        if not isinstance(part, str):
            fixed.append(part)
            continue
        # Words at even indices, the whitespace between them at odd ones.
        tokens: list[str | None] = list(_WHITESPACE.split(part))
        for index in range(0, len(tokens), 2):
            word = tokens[index]
            if word is None or not _is_bird_flag(word):
                continue
            felix = _felix_counterpart(word)
            if _normalised_flag(felix) not in present:
                tokens[index] = felix
                present.add(_normalised_flag(felix))
                continue
            tokens[index] = None
            # Drop one separator with the flag, the one before it when there is one.
            if index > 0 and tokens[index - 1] is not None:
                tokens[index - 1] = None
            elif index + 1 < len(tokens):
                tokens[index + 1] = None
        text = "".join(token for token in tokens if token is not None)
        if text or not part:
            fixed.append(text)
    return fixed


def drop_bird_probe_flags(container: dict[str, Any]) -> None:
    """Removes the BIRD flags from the container's liveness and readiness exec commands."""
    for probe in PROBES:
        handler = (container.get(probe) or {}).get("exec")
        if handler and handler.get("command"):
            handler["command"] = without_bird_flags(handler["command"])


def _containers(daemonset: dict[str, Any]) -> list[dict[str, Any]]:
    """The calico-node containers of a DaemonSet copy, as the checks pick them."""
    # A copy's containers are plain dicts, edited in place.
    return [c for c in _calico.calico_node_containers(daemonset) if isinstance(c, dict)]


def _set_env(container: dict[str, Any], name: str, value: str) -> None:
    """Sets a literal env value, replacing a ``valueFrom``, or appends the variable."""
    env: list[dict[str, Any]] = container.setdefault("env", [])
    entries = [item for item in env if item.get("name") == name]
    for item in entries:
        item.pop("valueFrom", None)
        item["value"] = value
    if not entries:
        env.append({"name": name, "value": value})


def _is_bgp(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == BGP


def _update(cluster: str, kind: kinds.Kind, before: KubeObject, after: Any, why: str) -> Step:
    metadata = before["metadata"]
    return KubeChange(
        cluster, kind, metadata.get("namespace"), metadata["name"], before, after, why
    )


def _pool_steps(view: ClusterView) -> list[Step]:
    """Every enabled IPv4 pool (where pod addresses come from) to VXLAN, as GD201 judges them."""
    steps: list[Step] = []
    for pool in _calico.ip_pools(view).pools:
        network = pool.network
        if pool.disabled or network is None or network.version != 4:
            continue
        if pool.ipip_mode == "Never" and pool.vxlan_mode == "Always":
            continue
        after = updated(pool.obj)
        spec = dict(objects.spec(after))
        spec["ipipMode"] = "Never"
        spec["vxlanMode"] = "Always"
        after["spec"] = spec
        why = (
            f"ipipMode {pool.ipip_mode} -> Never, vxlanMode {pool.vxlan_mode} -> Always "
            f"(through {pool.api_version}); Felix switches the pool's routes to VXLAN"
        )
        steps.append(_update(view.name, pool.kind, pool.obj, after, why))
    return steps


class CalicoToVxlan(Fix):
    """Pools first, then the backend and calico-node, in the order of Calico's own migration
    from IP-in-IP to VXLAN: Felix routes the pools over VXLAN before BIRD goes away."""

    id = "GD201"
    title = "switch Calico to VXLAN: pools, calico-config, calico-node env and probes"
    safety = Safety.UNSAFE
    order = 20

    def plan(self, ctx: FixContext) -> list[Step]:
        view = ctx.cluster
        _refuse_operator_managed(view, "switch Calico to VXLAN")
        steps = _pool_steps(view)
        configmap = _calico.calico_config(view)
        backend_in_configmap: object = None
        configmap_changed = False
        if configmap is not None:
            data = dict(objects.data(configmap))
            backend_in_configmap = data.get(_calico.BACKEND_KEY)
            if _is_bgp(backend_in_configmap):
                data[_calico.BACKEND_KEY] = backend_in_configmap = VXLAN
                configmap_changed = True
                steps.append(
                    _update(
                        view.name,
                        kinds.CONFIGMAPS,
                        configmap,
                        updated(configmap, data=data),
                        f"{_calico.BACKEND_KEY}: bird -> vxlan (calico-node reads it when it "
                        "starts)",
                    )
                )
        daemonset = _calico.calico_node(view)
        if daemonset is not None:
            step = self._daemonset_step(view, daemonset, backend_in_configmap, configmap_changed)
            if step is not None:
                steps.append(step)
        return steps

    @staticmethod
    def _daemonset_step(
        view: ClusterView,
        daemonset: KubeObject,
        backend_in_configmap: object,
        configmap_changed: bool,
    ) -> Step | None:
        after = updated(daemonset)
        changes: dict[str, None] = {}  # what changed, in order, once each
        for container in _containers(after):
            before_env = _calico.literal_env(container)
            _set_env(container, IPIP_ENV, "Never")
            _set_env(container, VXLAN_ENV, "Always")
            literal = before_env.get(_calico.BACKEND_ENV)
            if _is_bgp(literal):
                _set_env(container, _calico.BACKEND_ENV, VXLAN)
                literal = VXLAN
            after_env = _calico.literal_env(container)
            for name in (_calico.BACKEND_ENV, IPIP_ENV, VXLAN_ENV):
                if after_env.get(name) != before_env.get(name):
                    changes[f"{name}={after_env[name]}"] = None
            # The backend this container runs after the change, as GD202 will judge it: once
            # BIRD no longer starts, probes that ask it keep calico-node unready for ever, so
            # they change in the same rollout (Calico's migration steps do the same).
            backend = str(literal or backend_in_configmap or BGP).strip().lower()
            if backend in BIRDLESS_BACKENDS:
                probes = copy.deepcopy({probe: container.get(probe) for probe in PROBES})
                drop_bird_probe_flags(container)
                if any(container.get(probe) != probes[probe] for probe in PROBES):
                    changes["probes without -bird-live / -bird-ready"] = None
        if not changes and configmap_changed:
            # Only the ConfigMap changed: nothing would restart calico-node to read it.
            template_metadata = after["spec"]["template"].setdefault("metadata", {})
            annotations = template_metadata.setdefault("annotations", {})
            annotations[RESTART_ANNOTATION] = VXLAN
            changes[f"pod template annotation {RESTART_ANNOTATION}: {VXLAN}"] = None
        if after["spec"]["template"] == daemonset["spec"]["template"]:
            return None
        why = (
            f"calico-node {', '.join(changes)}; the DaemonSet controller then restarts every "
            "calico-node pod with it"
        )
        return _update(view.name, kinds.DAEMONSETS, daemonset, after, why)


def _refuse_operator_managed(view: ClusterView, what: str) -> None:
    """The Tigera operator reverts edits to the objects it manages: an edit would be undone
    behind gdoctor's back, so it is not made."""
    daemonset = _calico.calico_node(view)
    installation = _calico.operator_installation(daemonset)
    if daemonset is not None and installation is not None:
        raise PlanError(
            f"calico-node in {view.name} (DaemonSet {_calico.daemonset_name(daemonset)}) is "
            f"managed by the Tigera operator from its {installation}, which reverts edits to "
            f"it: gdoctor does not {what} behind the operator's back. Change the Installation "
            "instead, as the check's remedy says"
        )
