"""GD203's fix: the disabled, non-NAT Calico IP pools for remote CIDRs.

The plan follows the check's findings, which carry what it judged: the CIDR, the pool it
suggests (name and the API to create it through, decided by APIService
``v3.projectcalico.org``), or the covering pools that are set wrong. It refuses, rather than
half-repairs, where the remedy would hurt: a covering pool that is this cluster's own pod pool
(disabling it cuts the local pods off), an existing pool inside a CIDR to cover (Calico
rejects overlapping pools), or a CIDR whose pool Submariner (0.16.0 on) creates itself: a
gdoctor pool there would make Calico reject Submariner's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import calico as _calico
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.calico import CRD_API, V3_API
from globalnet_doctor.facts.cidrs import covers, overlaps, parse_network
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated
from globalnet_doctor.view import ClusterView

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "gdoctor"
POOL_KINDS = {V3_API: kinds.CALICO_IPPOOLS_V3, CRD_API: kinds.CALICO_IPPOOLS_CRD}
POD_POOL_ENV = ("CALICO_IPV4POOL_CIDR", "CALICO_IPV6POOL_CIDR")
"""calico-node's variables for the pod pool it creates: where this cluster's pods live."""
_DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}
"""Calico's default block sizes; a pool smaller than one block needs a smaller block."""


@dataclass(frozen=True, slots=True)
class NewPool:
    name: str
    cidr: str
    api_version: str
    what: str
    """What the pool covers, for the step's reason."""
    api_choice: str
    """Why this API, for the step's reason."""


def _what(evidence: Mapping[str, Any]) -> str:
    cluster = evidence.get("remoteCluster")
    field = str(evidence.get("field") or "")
    if cluster:
        return f"{cluster}'s {field} {evidence.get('cidr')}"
    return f"the local serviceCIDR {evidence.get('cidr')}"


def _api_choice(evidence: Mapping[str, Any]) -> str:
    service = evidence.get("calicoApiService") or {}
    name = f"APIService {service.get('name', 'v3.projectcalico.org')}"
    if service.get("available") == "True":
        return f"{name} is available"
    if service.get("unreadable"):
        return f"{name} unreadable: {service['unreadable']}"
    if not service.get("present"):
        return f"no {name}"
    return f"{name} not available ({service.get('reason') or 'no reason given'})"


def local_pod_cidrs(view: ClusterView, settings: Settings) -> list[str]:
    """The CIDRs this cluster's own pods take addresses from: the Submariner CR's clusterCIDR
    and calico-node's pod pool variables."""
    cidrs: list[str] = []
    cr = submariner.submariner_cr(view, settings)
    if cr is not None:
        cidrs.extend(submariner.submariner_field(cr, "clusterCIDR"))
    daemonset = _calico.calico_node(view)
    for container in _calico.calico_node_containers(daemonset) if daemonset else []:
        env = _calico.literal_env(container)
        cidrs.extend(env[name] for name in POD_POOL_ENV if env.get(name))
    return cidrs


def _prefix_length(cidr: str) -> int:
    network = parse_network(cidr)
    return network.prefixlen if network is not None else 128


def pool_object(new: NewPool) -> dict[str, Any]:
    network = parse_network(new.cidr)
    assert network is not None  # the check only reports CIDRs it could parse
    return {
        "apiVersion": new.api_version,
        "kind": "IPPool",
        "metadata": {"name": new.name, "labels": {MANAGED_BY_LABEL: MANAGER}},
        "spec": {
            "cidr": str(network),
            # At least as long as the prefix: Calico rejects a pool smaller than one block
            # (a remote host route such as a /32).
            "blockSize": max(_DEFAULT_BLOCK_SIZE[network.version], network.prefixlen),
            "disabled": True,
            "natOutgoing": False,
            "ipipMode": "Never",
            "vxlanMode": "Never",
        },
    }


def _refuse_submariners_pools(view: ClusterView, findings: Sequence[Any]) -> None:
    """Submariner (0.16.0 on) creates the pools for the remote Endpoints' subnets itself, and
    treats only AlreadyExists as success: a gdoctor pool overlapping one of them makes Calico
    reject Submariner's create ("IPPool(...) CIDR overlaps with IPPool(...)") on every gateway
    transition. The check names those pools instead of suggesting one."""
    for finding in findings:
        evidence = finding.evidence
        for pool in evidence.get("submarinerPools") or ():
            raise PlanError(
                f"Submariner {evidence.get('submarinerVersion', '')} creates IPPool "
                f"{pool.get('name')} ({pool.get('cidr')}) for {_what(evidence)} itself, through "
                f"{V3_API} from its route agent on the active gateway; a gdoctor pool would "
                "overlap it, and Calico would reject Submariner's. Make the route agent create "
                "it (the Calico API server, GD204; networkPlugin calico, GD205), as the check's "
                f"remedy says; gdoctor changes nothing in {view.name}"
            )


class CreateRemoteIPPools(Fix):
    id = "GD203"
    title = "create the disabled, non-NAT IP pools for remote CIDRs and set wrong ones right"
    safety = Safety.SAFE
    order = 30

    def plan(self, ctx: FixContext) -> list[Step]:
        view = ctx.cluster
        pools = {pool.name: pool for pool in _calico.ip_pools(view).pools}
        pod_cidrs = local_pod_cidrs(view, ctx.settings)
        updates: dict[str, Step] = {}
        wanted: list[NewPool] = []
        _refuse_submariners_pools(view, ctx.result.findings)
        for finding in ctx.result.findings:
            evidence = finding.evidence
            for summary in evidence.get("coveringPools") or ():
                pool = pools.get(str(summary.get("name")))
                if pool is None or pool.name in updates:
                    continue
                holding = [c for c in pod_cidrs if overlaps(pool.cidr, c)]
                if not pool.disabled and holding:
                    raise PlanError(
                        f"IPPool {pool.name} ({pool.cidr}) covers {_what(evidence)} but is this "
                        f"cluster's pod pool (it overlaps the local pod CIDR {holding[0]}): "
                        "disabling it or turning off its natOutgoing would cut the local pods "
                        "off. Pod CIDRs that overlap another cluster's need Globalnet or a new "
                        f"pod CIDR, not a pool change; gdoctor changes nothing in {view.name}"
                    )
                after = updated(pool.obj)
                after["spec"] = {**objects.spec(after), "disabled": True}
                after["spec"]["natOutgoing"] = False
                wrong = [
                    *(["disabled: false -> true"] if not pool.disabled else []),
                    *(["natOutgoing: true -> false"] if pool.nat_outgoing else []),
                ]
                why = f"covers {_what(evidence)}: {', '.join(wrong)} (through {pool.api_version})"
                updates[pool.name] = KubeChange(
                    view.name, pool.kind, None, pool.name, pool.obj, after, why
                )
            suggested = evidence.get("suggestedPool")
            if suggested and evidence.get("cidr"):
                wanted.append(
                    NewPool(
                        name=str(suggested["name"]).lower(),
                        cidr=str(evidence["cidr"]),
                        api_version=str(suggested["apiVersion"]),
                        what=_what(evidence),
                        api_choice=_api_choice(evidence),
                    )
                )
        return [*updates.values(), *self._creates(view, wanted, list(pools.values()))]

    @staticmethod
    def _creates(view: ClusterView, wanted: list[NewPool], existing: Sequence[Any]) -> list[Step]:
        planned: list[NewPool] = []
        # Widest first, so a CIDR inside one already planned needs no pool of its own.
        for new in sorted(wanted, key=lambda n: _prefix_length(n.cidr)):
            if any(covers(done.cidr, new.cidr) for done in planned):
                continue
            for pool in existing:
                if pool.name == new.name:
                    raise PlanError(
                        f"IPPool {new.name} exists already ({pool.cidr}, through "
                        f"{pool.api_version}) and does not cover {new.what}; gdoctor will not "
                        f"replace it in {view.name}"
                    )
                if overlaps(pool.cidr, new.cidr):
                    raise PlanError(
                        f"IPPool {pool.name} ({pool.cidr}) lies inside {new.what}, and Calico "
                        "rejects overlapping pools: replace it by one disabled, non-NAT pool "
                        f"for {new.cidr}; gdoctor changes nothing in {view.name}"
                    )
            planned.append(new)
        steps: list[Step] = []
        for new in planned:
            kind = POOL_KINDS.get(new.api_version)
            if kind is None:
                raise PlanError(f"cannot create IPPool {new.name} through {new.api_version}")
            steps.append(
                KubeChange(
                    view.name,
                    kind,
                    None,
                    new.name,
                    None,
                    pool_object(new),
                    f"no pool covers {new.what}: create it disabled, natOutgoing false, "
                    f"through {new.api_version} ({new.api_choice})",
                )
            )
        return steps
