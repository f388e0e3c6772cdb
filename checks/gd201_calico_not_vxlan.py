"""GD201: Calico carries pod traffic with IPIP/BGP or VXLAN CrossSubnet; Submariner is validated
with vxlanMode Always only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.calico import (
    ENCAPSULATING,
    IPIP_ENV,
    NAMESPACE,
    POOL_READS,
    PRESENCE_READS,
    ROKS_MANAGED_LABEL,
    ROKS_PREVIOUS_MODE,
    VXLAN_ENV,
    Backend,
    IPPool,
    calico_node,
    calico_node_containers,
    calico_present,
    ip_pools,
    literal_env,
    networking_backend,
    operator_installation,
    pod_pools,
    require_calico,
    roks_managed_pool,
)
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, KubeObject


def encapsulation_reads(settings: Settings) -> tuple[Read, ...]:
    """What ``calico_encapsulation_problems`` reads, for checks that call it (GD402)."""
    return (*PRESENCE_READS, *POOL_READS)


@dataclass(frozen=True, slots=True)
class _Sign:
    """One thing read that says Calico does not run VXLAN Always."""

    sentence: str
    error: bool
    """False where Submariner still gets VXLAN Always (the sign is a warning)."""
    ipip_or_bgp: bool
    """True where the sign is IPIP or BGP routing, not another VXLAN mode."""


@dataclass(frozen=True, slots=True)
class _Indications:
    """Every place that says Calico runs something other than VXLAN Always."""

    bgp_backend: Backend | None
    """The backend, when it is explicitly ``bird`` (BGP)."""
    pools: tuple[IPPool, ...]
    """Enabled IPv4 pools (those pod addresses, so the cluster CIDR, come from) not on VXLAN
    Always with IPIP off."""
    pool_env: dict[str, dict[str, str]]
    """calico-node container -> its pool variables that ask for IPIP or VXLAN CrossSubnet."""
    signs: tuple[_Sign, ...]

    @property
    def any(self) -> bool:
        return bool(self.signs)

    @property
    def errors(self) -> tuple[_Sign, ...]:
        return tuple(sign for sign in self.signs if sign.error)


def _pool_sign(pool: IPPool) -> _Sign:
    ipip = pool.ipip_mode.strip().lower() in ENCAPSULATING
    vxlan = pool.vxlan_mode.strip().lower()
    modes = f"has ipipMode {pool.ipip_mode} and vxlanMode {pool.vxlan_mode}"
    if ipip:
        what = f"IPIP {pool.ipip_mode}"
        if vxlan in ENCAPSULATING:
            what += f" (and VXLAN {pool.vxlan_mode}, which Calico rejects together)"
        return _Sign(f"IPPool {pool.name} ({pool.cidr}) {modes}: it uses {what}", True, True)
    if vxlan == "crosssubnet":
        return _Sign(
            f"IPPool {pool.name} ({pool.cidr}) {modes}: it uses VXLAN CrossSubnet "
            "(unencapsulated within a subnet)",
            True,
            False,
        )
    if vxlan in ENCAPSULATING:  # an unknown spelling of Always
        return _Sign(f"IPPool {pool.name} ({pool.cidr}) {modes}", True, False)
    return _Sign(
        f"IPPool {pool.name} ({pool.cidr}) {modes}: it encapsulates nothing (pod traffic "
        "between nodes leaves unencapsulated)",
        True,
        False,
    )


def _indications(view: ClusterView) -> _Indications:
    backend = networking_backend(view)
    daemonset = calico_node(view)
    pool_env: dict[str, dict[str, str]] = {}
    for container in calico_node_containers(daemonset) if daemonset is not None else []:
        env = literal_env(container)
        asked = {
            name: env[name]
            for name, bad in ((IPIP_ENV, ENCAPSULATING), (VXLAN_ENV, frozenset({"crosssubnet"})))
            if env.get(name, "").strip().lower() in bad
        }
        if asked:
            pool_env[str(container.get("name", ""))] = asked
    # Disabled pools hold no pod addresses: they only mark remote CIDRs (GD203), and their
    # modes never apply to traffic.
    pod = pod_pools(ip_pools(view).pools)
    pools = tuple(p for p in pod if p.ipip_mode != "Never" or p.vxlan_mode != "Always")
    signs: list[_Sign] = []
    bgp = backend if backend.value is not None and backend.effective == "bird" else None
    # With every pod pool on VXLAN Always, Submariner's traffic is VXLAN: BIRD alongside it and
    # the variables that shape only a pool calico-node creates when none exists are warnings
    # (subctl diagnose judges the pools' vxlanMode alone).
    vxlan_always = bool(pod) and not pools
    if bgp is not None:
        signs.append(
            _Sign(
                f"Calico's networking backend is {bgp.value} (BGP), set by {bgp.source}"
                + (
                    " (BIRD runs although every pod pool uses VXLAN Always)" if vxlan_always else ""
                ),
                not vxlan_always,
                True,
            )
        )
    signs.extend(_pool_sign(pool) for pool in pools)
    for name, asked in sorted(pool_env.items()):
        values = ", ".join(f"{variable}={value}" for variable, value in asked.items())
        signs.append(
            _Sign(
                f"calico-node container {name} sets {values}"
                + (
                    " (it shapes only a pool calico-node creates when none exists)"
                    if vxlan_always
                    else ""
                ),
                not vxlan_always,
                IPIP_ENV in asked,
            )
        )
    return _Indications(bgp, pools, pool_env, tuple(signs))


def _roks_pool(view: ClusterView) -> IPPool | None:
    return roks_managed_pool(ip_pools(view).pools)


def _roks_reason(pool: IPPool) -> str:
    previous = (objects.metadata(pool.obj).get("annotations") or {}).get(ROKS_PREVIOUS_MODE)
    was = f", previously {previous}" if previous else ""
    return (
        f"IPPool {pool.name} ({pool.cidr}) has ipipMode Always set by Submariner itself "
        f"(label {ROKS_MANAGED_LABEL}=true, annotation {ROKS_PREVIOUS_MODE}{was}): its route "
        "agent does this on IBM ROKS, where Submariner needs IPIP, and would revert a switch to "
        "VXLAN"
    )


def calico_encapsulation_problems(view: ClusterView) -> list[str]:
    """One short sentence per error-level sign that Calico runs IPIP/BGP or another VXLAN mode
    than Always; empty when Calico is absent, on VXLAN Always, or set to IPIP by Submariner itself
    (IBM ROKS). Shared with GD402, which names root causes of failing pings."""
    if not calico_present(view) or _roks_pool(view) is not None:
        return []
    return [sign.sentence for sign in _indications(view).errors]


def _headline(signs: Sequence[_Sign], backend: str | None) -> str:
    if any(sign.ipip_or_bgp for sign in signs):
        if backend == "vxlan":
            # The field report's state: calico_backend switched, the pools and env not yet.
            return (
                "Calico is half-migrated to VXLAN: its backend is vxlan, but it still "
                "encapsulates with IPIP/BGP"
            )
        return "Calico encapsulates with IPIP/BGP, not VXLAN"
    return "Calico does not encapsulate with VXLAN Always"


class CalicoNotVxlan(Check):
    id = "GD201"
    name = "calico-not-vxlan"
    title = "Calico encapsulates with VXLAN (Submariner is validated with VXLAN only)"
    severity = Severity.ERROR
    tags = frozenset({"calico", "cni", "cluster"})
    explains = frozenset({"GD402", "GD503", "GD603"})
    fix = "GD201"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*encapsulation_reads(settings), *submariner.submariner_reads(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        require_calico(view)
        require_submariner(ctx.cluster, ctx.settings)
        roks = _roks_pool(view)
        if roks is not None:
            raise NotApplicable(_roks_reason(roks))
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
        if found.pool_env and daemonset is not None:
            evidence["calicoNodeEnv"] = dict(sorted(found.pool_env.items()))
            resources.append(ref(view.name, kinds.DAEMONSETS, daemonset))
        if found.pools:
            evidence["ipPools"] = [pool.summary() for pool in found.pools]
            resources += [
                ref(view.name, pool.kind, pool.obj, pool.api_version) for pool in found.pools
            ]
        errors = found.errors
        if errors:
            signs = errors
            headline = _headline(errors, networking_backend(view).effective)
            message = f"{headline}: " + "; ".join(s.sentence for s in errors)
            message += "; Submariner is validated with vxlanMode Always only"
        else:
            signs = found.signs
            message = (
                "every pod IPPool uses VXLAN Always, but "
                + "; ".join(s.sentence for s in signs)
                + ": not what Submariner is validated with"
            )
        evidence["signs"] = [s.sentence for s in found.signs]
        yield self.finding(
            message,
            resources=dict.fromkeys(resources),  # the DaemonSet may be named twice
            evidence=evidence,
            remedy=_remedy(daemonset),
            severity=Severity.ERROR if errors else Severity.WARNING,
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
