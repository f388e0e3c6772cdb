"""GD201: Calico encapsulates pod traffic with IPIP/BGP; Submariner is validated with VXLAN only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import submariner
from globalnet_doctor.facts.calico import (
    IPIP_ENV,
    NAMESPACE,
    POOL_READS,
    PRESENCE_READS,
    Backend,
    IPPool,
    calico_node,
    calico_node_containers,
    calico_present,
    ip_pools,
    literal_env,
    networking_backend,
    operator_installation,
    require_calico,
)
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject

_IPIP_ON = frozenset({"always", "crosssubnet"})


def encapsulation_reads(settings: Settings) -> tuple[Read, ...]:
    """What ``calico_encapsulation_problems`` reads, for checks that call it (GD402)."""
    return (*PRESENCE_READS, *POOL_READS)


@dataclass(frozen=True, slots=True)
class _Indications:
    """Every place that says Calico runs IPIP/BGP rather than VXLAN."""

    bgp_backend: Backend | None
    """The backend, when it is explicitly ``bird`` (BGP)."""
    pools: tuple[IPPool, ...]
    """Enabled IPv4 pools (those pod addresses, so the cluster CIDR, come from) not on VXLAN."""
    ipip_env: dict[str, str]
    """calico-node container -> its CALICO_IPV4POOL_IPIP, when Always or CrossSubnet."""

    @property
    def any(self) -> bool:
        return self.bgp_backend is not None or bool(self.pools) or bool(self.ipip_env)


def _indications(view: ClusterView) -> _Indications:
    backend = networking_backend(view)
    daemonset = calico_node(view)
    ipip_env: dict[str, str] = {}
    for container in calico_node_containers(daemonset) if daemonset is not None else []:
        value = literal_env(container).get(IPIP_ENV, "")
        if value.strip().lower() in _IPIP_ON:
            ipip_env[str(container.get("name", ""))] = value
    # Disabled pools hold no pod addresses: they only mark remote CIDRs (GD203), and their
    # modes never apply to traffic.
    pools = tuple(
        pool
        for pool in ip_pools(view).pools
        if not pool.disabled
        and pool.network is not None
        and pool.network.version == 4
        and (pool.ipip_mode != "Never" or pool.vxlan_mode != "Always")
    )
    bgp = backend if backend.value is not None and backend.effective == "bird" else None
    return _Indications(bgp, pools, ipip_env)


def _sentences(found: _Indications) -> list[str]:
    sentences: list[str] = []
    if found.bgp_backend is not None:
        sentences.append(
            f"Calico's networking backend is {found.bgp_backend.value} (BGP), "
            f"set by {found.bgp_backend.source}"
        )
    sentences.extend(
        f"IPPool {pool.name} ({pool.cidr}) has ipipMode {pool.ipip_mode} and "
        f"vxlanMode {pool.vxlan_mode}, not ipipMode Never and vxlanMode Always"
        for pool in found.pools
    )
    sentences.extend(
        f"calico-node container {container} sets {IPIP_ENV}={value}"
        for container, value in sorted(found.ipip_env.items())
    )
    return sentences


def calico_encapsulation_problems(view: ClusterView) -> list[str]:
    """One short sentence per sign that Calico runs IPIP/BGP instead of VXLAN; empty when Calico
    is absent or on VXLAN. Shared with GD402, which names root causes of failing pings."""
    if not calico_present(view):
        return []
    return _sentences(_indications(view))


class CalicoNotVxlan(Check):
    id = "GD201"
    name = "calico-not-vxlan"
    title = "Calico encapsulates with VXLAN (Submariner is validated with VXLAN only)"
    severity = Severity.ERROR
    tags = frozenset({"calico", "cni", "cluster"})
    fix = "GD201"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*encapsulation_reads(settings), *submariner.submariner_reads(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        require_calico(view)
        require_submariner(ctx.cluster, ctx.settings)
        found = _indications(view)
        if not found.any:
            return
        evidence: dict[str, Any] = {}
        resources: list[ResourceRef] = []
        if found.bgp_backend is not None:
            evidence["calicoBackend"] = found.bgp_backend.value
            evidence["backendSource"] = found.bgp_backend.source
            if found.bgp_backend.origin is not None:
                resources.append(ref(view.name, *found.bgp_backend.origin))
        daemonset = calico_node(view)
        if found.ipip_env and daemonset is not None:
            evidence["calicoNodeEnv"] = {
                container: {IPIP_ENV: value} for container, value in sorted(found.ipip_env.items())
            }
            resources.append(ref(view.name, kinds.DAEMONSETS, daemonset))
        if found.pools:
            evidence["ipPools"] = [pool.summary() for pool in found.pools]
            resources += [
                ref(view.name, pool.kind, pool.obj, pool.api_version) for pool in found.pools
            ]
        yield self.finding(
            "Calico encapsulates with IPIP/BGP, not VXLAN; Submariner is validated with VXLAN only",
            resources=dict.fromkeys(resources),  # the DaemonSet may be named twice
            evidence=evidence,
            remedy=_remedy(daemonset),
        )


def _remedy(daemonset: KubeObject | None) -> str:
    installation = operator_installation(daemonset)
    if installation is not None:
        return (
            f"Calico is the Tigera operator's ({installation}), which reverts edits to "
            "calico-node: switch it to VXLAN in the Installation, `spec.calicoNetwork.bgp: "
            "Disabled` and `encapsulation: VXLAN` on each of its `spec.calicoNetwork.ipPools` "
            "(`kubectl edit installation default`), and set `vxlanMode: Always`, `ipipMode: "
            "Never` on any other pod IPPool. The operator then rolls calico-node, probes "
            "included. Pod traffic is disrupted while Calico switches."
        )
    return (
        "Switch Calico to VXLAN in all four places: ConfigMap "
        f"{NAMESPACE}/calico-config `calico_backend: vxlan`; calico-node env "
        "CALICO_IPV4POOL_VXLAN=Always and CALICO_IPV4POOL_IPIP=Never; every pod IPPool "
        "`vxlanMode: Always`, `ipipMode: Never`. Pod traffic is disrupted while Calico "
        "switches; then drop -bird-live/-bird-ready from the calico-node probes (GD202)."
    )
