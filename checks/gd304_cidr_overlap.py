"""GD304: CIDRs that Submariner routes between clusters overlap, so traffic goes to the wrong side.

The clusters compared are every context of the run with a Submariner CR (its networks from the
CR, status before spec) followed by the clusters only the broker's ``Cluster`` objects know.
A finding about two clusters goes under the first of them in kubeconfig order and names the other
in ``relatedClusters``; a global CIDR overlapping the cluster's own networks goes under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.cidrs import overlaps
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable

POD = "clusterCIDR"
SERVICE = "serviceCIDR"
GLOBAL = "globalCIDR"
NODE = "node address"

_Pairs = tuple[tuple[str, str], ...]

_OWN: _Pairs = ((GLOBAL, POD), (GLOBAL, SERVICE), (GLOBAL, NODE))
"""A global CIDR must stay clear of the cluster's own networks."""
_ACROSS: _Pairs = (
    (GLOBAL, GLOBAL),
    (GLOBAL, POD),
    (GLOBAL, SERVICE),
    (GLOBAL, NODE),
    (POD, GLOBAL),
    (SERVICE, GLOBAL),
    (NODE, GLOBAL),
)
"""...and of every other cluster's, and two clusters never share global addresses."""
_ACROSS_WITHOUT_GLOBALNET: _Pairs = ((POD, POD), (POD, SERVICE), (SERVICE, POD), (SERVICE, SERVICE))
"""Without Globalnet on both sides, pod and service CIDRs are routed as they are."""
_NODE_ADDRESS_TYPES = frozenset({"InternalIP", "ExternalIP"})


def overlap_reads(settings: Settings) -> tuple[Read, ...]:
    """What ``overlap_problems`` reads, for checks that call it (GD402)."""
    return (
        *submariner.submariner_reads(settings),
        *submariner.broker_reads(settings),
        Read(kinds.NODES),
    )


@dataclass(frozen=True, slots=True)
class Member:
    """One cluster joined to Submariner, with the networks it routes."""

    name: str
    """The context, or the clusterID when only the broker knows the cluster."""
    context: str | None
    cidrs: dict[str, tuple[str, ...]]
    """POD, SERVICE, GLOBAL, NODE -> CIDRs (node addresses as bare IPs)."""
    source: ResourceRef | None

    @property
    def globalnet(self) -> bool:
        return bool(self.cidrs.get(GLOBAL))


@dataclass(frozen=True, slots=True)
class Overlap:
    first: Member
    first_field: str
    first_cidr: str
    second: Member
    second_field: str
    second_cidr: str

    @property
    def within_one_cluster(self) -> bool:
        return self.first is self.second

    def sentence(self) -> str:
        other = "its own" if self.within_one_cluster else f"{self.second.name}'s"
        return (
            f"{self.first.name}'s {self.first_field} {self.first_cidr} overlaps "
            f"{other} {self.second_field} {self.second_cidr}"
        )


def _node_addresses(view: ClusterView) -> tuple[str, ...]:
    try:
        nodes = view.list(kinds.NODES)
    except InputUnavailable:
        return ()  # node addresses add evidence; without them the CIDRs are still compared
    return tuple(
        sorted(
            {
                str(address.get("address"))
                for node in nodes
                for address in objects.status(node).get("addresses") or []
                if address.get("type") in _NODE_ADDRESS_TYPES and address.get("address")
            }
        )
    )


def members(clusters: Sequence[ClusterView], settings: Settings) -> list[Member]:
    """The contexts with Submariner in kubeconfig order, then the broker's other clusters."""
    found: list[Member] = []
    known_ids: set[str] = set()
    for view in clusters:
        if not view.reachable:
            continue
        try:
            cr = submariner.submariner_cr(view, settings)
        except InputUnavailable:
            continue
        if cr is None:
            continue
        known_ids.add(submariner.cr_cluster_id(cr) or "")
        cidrs = {name: submariner.submariner_field(cr, name) for name in (POD, SERVICE, GLOBAL)}
        cidrs[NODE] = _node_addresses(view)
        found.append(Member(view.name, view.name, cidrs, ref(view.name, kinds.SUBMARINERS, cr)))
    broker = submariner.broker_view(clusters, settings)
    if broker is None or not broker.reachable:
        return found
    try:
        networks = submariner.broker_clusters(broker, settings)
    except InputUnavailable:
        return found
    for cluster_id, network in sorted(networks.items()):
        if cluster_id in known_ids:
            continue
        obj = broker.get(kinds.SUBMARINER_CLUSTERS, cluster_id, settings.broker_namespace)
        cidrs = {POD: network.cluster_cidrs, SERVICE: network.service_cidrs}
        cidrs[GLOBAL] = network.global_cidrs
        source = ref(broker.name, kinds.SUBMARINER_CLUSTERS, obj) if obj is not None else None
        found.append(Member(cluster_id, None, cidrs, source))
    return found


def _compare(first: Member, second: Member, fields: _Pairs) -> Iterable[Overlap]:
    for first_field, second_field in fields:
        for first_cidr in first.cidrs.get(first_field, ()):
            for second_cidr in second.cidrs.get(second_field, ()):
                if overlaps(first_cidr, second_cidr):
                    yield Overlap(first, first_field, first_cidr, second, second_field, second_cidr)


def find_overlaps(group: Sequence[Member]) -> list[Overlap]:
    """Every overlap among the clusters, each pair once, the earlier cluster first."""
    found: list[Overlap] = []
    for index, first in enumerate(group):
        found.extend(_compare(first, first, _OWN))
        for second in group[index + 1 :]:
            fields = _ACROSS
            if not (first.globalnet and second.globalnet):
                fields += _ACROSS_WITHOUT_GLOBALNET
            found.extend(_compare(first, second, fields))
    return found


def overlap_problems(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    """One sentence per overlap that involves ``view``'s cluster, in either position. Shared
    with GD402, which names root causes of failing pings. Empty without Submariner there."""
    return [
        overlap.sentence()
        for overlap in find_overlaps(members(clusters, settings))
        if view.name in (overlap.first.context, overlap.second.context)
    ]


def _remedy(overlap: Overlap) -> str:
    fields = {overlap.first_field, overlap.second_field}
    if fields == {GLOBAL}:
        return (
            "Give each cluster its own global CIDR: remove the cluster's entry from ConfigMap "
            "submariner-globalnet-info in the broker namespace, then re-join it with "
            "`subctl join --globalnet-cidr <a free CIDR of the broker's range>`."
        )
    if GLOBAL in fields:
        return (
            "Move the global CIDR clear of every pod, service and node network: re-join with "
            "`subctl join --globalnet-cidr <a free CIDR>` (the default range is 242.0.0.0/8)."
        )
    return (
        "Clusters whose pod or service CIDRs overlap need Globalnet: deploy the broker with "
        "`subctl deploy-broker --globalnet` and re-join every cluster, or re-address one of them."
    )


class CidrOverlap(Check):
    id = "GD304"
    name = "cidr-overlap"
    title = "The CIDRs Submariner routes between clusters do not overlap"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "cidr", "cluster"})
    explains = frozenset({"GD402", "GD403"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return overlap_reads(settings)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        for overlap in find_overlaps(members(ctx.clusters, ctx.settings)):
            if overlap.first.context != ctx.cluster.name:
                continue
            first, second = overlap.first, overlap.second
            sources = [m.source for m in (first, second) if m.source is not None]
            yield self.finding(
                overlap.sentence(),
                resources=dict.fromkeys(sources),  # one cluster's own overlap names it once
                evidence={
                    "cluster": first.name,
                    "field": overlap.first_field,
                    "cidr": overlap.first_cidr,
                    "otherCluster": second.name,
                    "otherField": overlap.second_field,
                    "otherCidr": overlap.second_cidr,
                    "globalnet": {first.name: first.globalnet, second.name: second.globalnet},
                },
                remedy=_remedy(overlap),
                related_clusters=() if overlap.within_one_cluster else (second.name,),
            )
