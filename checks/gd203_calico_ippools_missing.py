"""GD203: Calico lacks the disabled IP pools that keep it from NATing remote traffic.

Calico's ``cali-nat-outgoing`` masquerades traffic from pod pools to any destination outside
every pool, so each remote cluster's CIDRs need a pool (``disabled: true`` so no pod gets an
address from it, ``natOutgoing: false``). With Globalnet the remote CIDRs are the remote global
CIDRs; without it, the remote pod and service CIDRs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.calico import (
    CRD_API,
    POOL_READS,
    PRESENCE_READS,
    SUBMARINER_CREATES_POOLS,
    V3_API,
    IPPool,
    SubmarinerPool,
    ip_pools,
    masquerading_pools,
    require_calico,
    submariner_pools,
)
from globalnet_doctor.facts.cidrs import covers, dashed, overlaps, parse_network
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, InputUnavailable

CALICO_API_SERVICE = "v3.projectcalico.org"


def pool_reads(settings: Settings) -> tuple[Read, ...]:
    """What ``missing_pool_problems`` reads, for checks that call it (GD402)."""
    return (
        *PRESENCE_READS,
        *POOL_READS,
        *submariner.submariner_reads(settings),
        *submariner.broker_reads(settings),
    )


@dataclass(frozen=True, slots=True)
class RemoteCidr:
    """A CIDR that traffic from another cluster arrives from (or goes to)."""

    cluster_id: str
    cidr: str
    field_name: str
    """Where it was read: globalCIDR, clusterCIDR or serviceCIDR of the broker's Cluster object,
    or the subnets of the cluster's Endpoint."""
    source: ResourceRef | None


@dataclass(frozen=True, slots=True)
class _Problem:
    severity: Severity
    message: str
    cidr: str
    pool_name: str
    """The name gdoctor's fix would give a new pool."""
    pools: tuple[IPPool, ...]
    """The pools that cover the CIDR but are set wrong; empty when none covers it."""
    evidence: dict[str, Any]
    source: ResourceRef | None
    submariner_pools: tuple[SubmarinerPool, ...] = ()
    """The pools Submariner (0.16.0 on) creates itself that overlap the CIDR, when no pool
    covers it: gdoctor must not create one of its own (Calico rejects overlapping pools)."""


@dataclass(frozen=True, slots=True)
class _Assessment:
    problems: list[_Problem]
    pool_apis: dict[str, str]
    submariner_version: str


def remote_cidrs(
    local_id: str | None, globalnet: bool, clusters: Sequence[ClusterView], settings: Settings
) -> list[RemoteCidr]:
    """The other clusters' CIDRs, from the broker's Cluster and Endpoint objects.

    Raises ``InputUnavailable`` when no context of the run holds the broker.
    """
    broker = submariner.broker_view(clusters, settings)
    if broker is None or not broker.reachable:
        where = f"context {settings.broker_context}" if settings.broker_context else "no context"
        raise InputUnavailable(
            f"the remote clusters' CIDRs come from the broker, and {where} of this run holds "
            f"Broker objects in {settings.broker_namespace} (name it with --broker-context)"
        )
    namespace = settings.broker_namespace
    found: list[RemoteCidr] = []
    for cluster_id, networks in sorted(submariner.broker_clusters(broker, settings).items()):
        if cluster_id == local_id:
            continue
        obj = broker.get(kinds.SUBMARINER_CLUSTERS, cluster_id, namespace)
        source = ref(broker.name, kinds.SUBMARINER_CLUSTERS, obj) if obj is not None else None
        if globalnet:
            fields = {"globalCIDR": networks.global_cidrs}
        else:
            fields = {"clusterCIDR": networks.cluster_cidrs, "serviceCIDR": networks.service_cidrs}
        for name, cidrs in fields.items():
            found.extend(RemoteCidr(cluster_id, cidr, name, source) for cidr in cidrs)
    # An Endpoint's subnets are what Submariner routes to that cluster (global CIDR with
    # Globalnet, pod and service CIDRs without): they count too, in case its Cluster object is
    # missing or disagrees.
    for endpoint in broker.list(kinds.SUBMARINER_ENDPOINTS, namespace):
        spec = objects.spec(endpoint)
        cluster_id = str(spec.get("cluster_id") or "")
        if not cluster_id or cluster_id == local_id:
            continue
        for subnet in spec.get("subnets") or []:
            known = any(
                r.cluster_id == cluster_id and parse_network(r.cidr) == parse_network(subnet)
                for r in found
            )
            if not known:
                source = ref(broker.name, kinds.SUBMARINER_ENDPOINTS, endpoint)
                found.append(RemoteCidr(cluster_id, str(subnet), "Endpoint subnets", source))
    return found


def _judge(cidr: str, pools: Sequence[IPPool]) -> tuple[list[IPPool], list[IPPool]]:
    """(pools covering ``cidr``, those among them set right: disabled, natOutgoing false)."""
    covering = [pool for pool in pools if covers(pool.cidr, cidr)]
    return covering, [pool for pool in covering if pool.disabled and not pool.nat_outgoing]


def _wrong_settings(pool: IPPool) -> str:
    wrong = []
    if not pool.disabled:
        wrong.append("disabled: false")
    if pool.nat_outgoing:
        wrong.append("natOutgoing: true")
    return ", ".join(wrong)


def _problem_for(
    what: str,
    cidr: str,
    pool_name: str,
    pools: Sequence[IPPool],
    severity: Severity,
    remote: RemoteCidr | None = None,
) -> _Problem | None:
    covering, right = _judge(cidr, pools)
    if right:
        return None
    evidence = (
        {"remoteCluster": remote.cluster_id, "field": remote.field_name}
        if remote
        else {"field": "serviceCIDR of the local Submariner CR"}
    )
    source = remote.source if remote else None
    if not covering:
        message = f"no Calico IPPool covers {what} {cidr}"
        return _Problem(severity, message, cidr, pool_name, (), evidence, source)
    wrong = "; ".join(f"{p.name} ({p.cidr}) has {_wrong_settings(p)}" for p in covering)
    message = f"the IPPool covering {what} {cidr} is set wrong: {wrong}"
    return _Problem(severity, message, cidr, pool_name, tuple(covering), evidence, source)


def _require_masquerade(
    view: ClusterView, pools: Sequence[IPPool], pod_cidrs: Sequence[str]
) -> None:
    """Raises ``NotApplicable`` where no pool masquerades this cluster's pods: Felix's
    ``cali-nat-outgoing`` rule matches only sources in pools with ``natOutgoing: true``
    (``felix/rules/nat.go``, ipset ``masq-ipam-pools``), so a policy-only Calico (the pods'
    addresses from the cloud's IPAM) or one with NAT off never touches remote traffic."""
    if masquerading_pools(pools, pod_cidrs):
        return
    raise NotApplicable(
        "no Calico IPPool has natOutgoing: true, so Calico masquerades none of this cluster's "
        "pod traffic (policy-only Calico, its pods addressed by another IPAM, or NAT off): "
        "remote CIDRs need no pool here"
    )


def _assess(view: ClusterView, clusters: Sequence[ClusterView], settings: Settings) -> _Assessment:
    require_calico(view)
    cr = require_submariner(view, settings)
    local_id = submariner.cr_cluster_id(cr)
    globalnet = bool(submariner.submariner_field(cr, "globalCIDR"))
    listing = ip_pools(view)
    _require_masquerade(view, listing.pools, submariner.submariner_field(cr, "clusterCIDR"))
    auto: tuple[SubmarinerPool, ...] = ()
    if submariner.at_least(submariner.submariner_version(cr), SUBMARINER_CREATES_POOLS):
        broker = submariner.broker_view(clusters, settings)
        if broker is not None and broker.reachable:
            endpoints = broker.list(kinds.SUBMARINER_ENDPOINTS, settings.broker_namespace)
            auto = submariner_pools(endpoints, local_id)
    problems: list[_Problem] = []
    for remote in remote_cidrs(local_id, globalnet, clusters, settings):
        problem = _problem_for(
            f"{remote.cluster_id}'s {remote.field_name}",
            remote.cidr,
            f"gdoctor-{remote.cluster_id}-{dashed(remote.cidr)}",
            listing.pools,
            Severity.ERROR,
            remote,
        )
        if problem is not None:
            problems.append(_with_submariner_pools(problem, auto))
    # The field report also disabled the local service CIDR; Submariner works without it more
    # often than not, hence only a warning.
    for cidr in submariner.submariner_field(cr, "serviceCIDR"):
        problem = _problem_for(
            "the local serviceCIDR",
            cidr,
            f"gdoctor-{local_id or view.name}-{dashed(cidr)}",
            listing.pools,
            Severity.WARNING,
        )
        if problem is not None:
            problems.append(_with_submariner_pools(problem, auto))
    return _Assessment(problems, listing.apis, submariner.version_text(cr))


def _with_submariner_pools(problem: _Problem, auto: Sequence[SubmarinerPool]) -> _Problem:
    if problem.pools:
        return problem
    found = tuple(pool for pool in auto if overlaps(pool.cidr, problem.cidr))
    if not found:
        return problem
    return _Problem(
        problem.severity,
        problem.message,
        problem.cidr,
        problem.pool_name,
        problem.pools,
        problem.evidence,
        problem.source,
        found,
    )


def missing_pool_problems(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    """One sentence per remote CIDR without a right IP pool (error-level problems only); empty
    when Calico or Submariner is absent. Shared with GD402, which names root causes of failing
    pings. Raises ``InputUnavailable`` when the pools or the broker cannot be read."""
    try:
        assessment = _assess(view, clusters, settings)
    except NotApplicable:
        return []
    return [p.message for p in assessment.problems if p.severity is Severity.ERROR]


def _api_service(view: ClusterView) -> dict[str, Any]:
    """The Calico API server's APIService, which decides the API a new pool is created through."""
    try:
        service = view.get(kinds.APISERVICES, CALICO_API_SERVICE)
    except InputUnavailable as exc:
        return {"name": CALICO_API_SERVICE, "unreadable": exc.reason}
    if service is None:
        return {"name": CALICO_API_SERVICE, "present": False}
    conditions = objects.status(service).get("conditions") or []
    available: dict[str, Any] = next((c for c in conditions if c.get("type") == "Available"), {})
    return {
        "name": CALICO_API_SERVICE,
        "present": True,
        "available": available.get("status"),
        "reason": available.get("reason"),
    }


class CalicoIppoolsMissing(Check):
    id = "GD203"
    name = "calico-ippools-missing"
    title = "Calico has a disabled, non-NAT IP pool for every remote cluster's CIDR"
    severity = Severity.ERROR
    tags = frozenset({"calico", "cni", "cluster"})
    explains = frozenset({"GD402", "GD503", "GD603"})
    fix = "GD203"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*pool_reads(settings), Read(kinds.APISERVICES, name=CALICO_API_SERVICE))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view = ctx.cluster
        assessment = _assess(view, ctx.clusters, ctx.settings)
        if not assessment.problems:
            return
        api_service = _api_service(view)
        create_with = V3_API if api_service.get("available") == "True" else CRD_API
        for problem in assessment.problems:
            resources = [ref(view.name, p.kind, p.obj, p.api_version) for p in problem.pools]
            if problem.source is not None:
                resources.append(problem.source)
            evidence: dict[str, Any] = {**problem.evidence, "cidr": problem.cidr}
            if problem.pools:
                evidence["coveringPools"] = [pool.summary() for pool in problem.pools]
                remedy = "Set `disabled: true` and `natOutgoing: false` on " + ", ".join(
                    f"IPPool {pool.name}" for pool in problem.pools
                )
            elif problem.submariner_pools:
                evidence["submarinerPools"] = [
                    {"name": p.name, "cidr": p.cidr, "clusterID": p.cluster_id}
                    for p in problem.submariner_pools
                ]
                evidence["submarinerVersion"] = assessment.submariner_version
                names = ", ".join(f"IPPool {p.name}" for p in problem.submariner_pools)
                remedy = (
                    f"Submariner {assessment.submariner_version} creates {names} itself "
                    f"({V3_API}, from the route agent on the active gateway), so its absence "
                    "means the route agent could not: check that the Calico API server serves "
                    f"{V3_API} (GD204) and that the Submariner CR's status.networkPlugin is "
                    "calico (GD205), then read the route agent's log on the gateway. Do not "
                    "create a pool of your own for this CIDR: Calico rejects overlapping pools, "
                    "and Submariner's own create would then fail on every gateway transition"
                )
            else:
                evidence["suggestedPool"] = {"apiVersion": create_with, "name": problem.pool_name}
                remedy = (
                    f"Create IPPool {problem.pool_name} through {create_with} with "
                    f"`cidr: {problem.cidr}`, `disabled: true`, `natOutgoing: false`"
                )
            evidence["poolApis"] = assessment.pool_apis
            evidence["calicoApiService"] = api_service
            yield self.finding(
                problem.message,
                resources=resources,
                evidence=evidence,
                remedy=remedy + ".",
                severity=problem.severity,
            )
