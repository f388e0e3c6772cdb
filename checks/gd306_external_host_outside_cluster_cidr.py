"""GD306: the external host is outside every clusterCIDR of the cluster that owns it.

Globalnet gives global IPs only to addresses inside the cluster's ``clusterCIDR``, so a host
outside every cluster is reachable (and can reach the clusters) only when its own /32 was added
at join time (``subctl join --clustercidr 10.43.0.0/16,172.16.255.184/32``).

The host's IP comes from ``--external-host``; without it, when gdoctor runs on the external host
itself (host checks run there, in the ``external`` role), from the machine: its address on the
gateways' subnet. The owning cluster is, in this order: ``--host-cluster``; the cluster of the
gateway node the machine's route to the global CIDR goes through (when the IP comes from the
machine); the clusters whose Submariner CR lists the host in ``clusterCIDR`` (spec or status);
with ``--external-host``, the clusters with an ``Endpoints`` object pointing at the host (a
selector-less Service that the clusters reach the host through, as in the field report). Other
clusters ``skip``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import host_situation as host_facts
from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.cidrs import contains_address
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.host_view import HostRole
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

FIELD = "clusterCIDR"


@dataclass(frozen=True, slots=True)
class Ownership:
    owners: tuple[str, ...]
    """The contexts that own the host."""
    reason: str
    """How they were found, for the evidence."""


def _listed(cr: KubeObject, part: str) -> tuple[str, ...]:
    """clusterCIDR of the CR's ``spec`` or ``status`` alone (``submariner_field`` would fall
    back from an empty status to the spec)."""
    return submariner.submariner_field({part: cr.get(part) or {}}, FIELD)


def _submariner_cr(view: ClusterView, settings: Settings) -> KubeObject | None:
    if not view.reachable:
        return None
    try:
        return submariner.submariner_cr(view, settings)
    except InputUnavailable:
        return None


def _endpoints_to(view: ClusterView, host: str) -> list[str]:
    """NAMESPACE/NAME of every Endpoints object that lists ``host`` as an address."""
    try:
        endpoints = view.list(kinds.ENDPOINTS)
    except InputUnavailable:
        return []
    found = []
    for obj in endpoints:
        addresses = [
            str(address.get("ip"))
            for subset in obj.get("subsets") or []
            for address in (subset.get("addresses") or []) + (subset.get("notReadyAddresses") or [])
        ]
        if host in addresses:
            metadata = objects.metadata(obj)
            found.append(f"{metadata.get('namespace')}/{metadata.get('name')}")
    return sorted(found)


def owning_clusters(
    clusters: Sequence[ClusterView],
    settings: Settings,
    host: str,
    route_owner: Ownership | None = None,
    use_endpoints: bool = True,
) -> Ownership:
    """Which contexts own the external host; raises ``NotApplicable`` when none can be told.
    ``route_owner``: the cluster of the gateway the machine's route goes through, when gdoctor
    runs on the host; ``use_endpoints``: whether the Endpoints of every cluster were read."""
    if settings.host_cluster is not None:
        named = settings.host_cluster
        if not any(view.name == named for view in clusters):
            # Not a context: perhaps the Submariner clusterID of one.
            named = submariner.contexts_by_cluster_id(clusters, settings).get(named, "")
        if not named:
            raise NotApplicable(f"--host-cluster {settings.host_cluster} is no context of this run")
        return Ownership((named,), "--host-cluster")
    if route_owner is not None:
        return route_owner
    claiming = []
    for view in clusters:
        cr = _submariner_cr(view, settings)
        if cr is not None and contains_address(_listed(cr, "spec") + _listed(cr, "status"), host):
            claiming.append(view.name)
    if claiming:
        return Ownership(tuple(claiming), f"its Submariner CR lists it in {FIELD}")
    pointing = {
        view.name: found
        for view in clusters
        if use_endpoints and view.reachable and (found := _endpoints_to(view, host))
    }
    if pointing:
        where = "; ".join(f"{name}: {', '.join(found)}" for name, found in pointing.items())
        return Ownership(tuple(pointing), f"Endpoints point at it ({where})")
    raise NotApplicable(
        f"no cluster claims the external host {host} (no {FIELD} lists it, no Endpoints point "
        "at it): name its cluster with --host-cluster CONTEXT"
        if use_endpoints
        else f"no cluster claims the external host {host} (its route to the global CIDR goes "
        f"through no gateway node, no {FIELD} lists it): name its cluster with "
        "--host-cluster CONTEXT"
    )


def host_address(ctx: CheckContext) -> tuple[str, Ownership | None]:
    """The external host's IP, and its owner by route when the IP comes from the machine:
    ``--external-host``, else this machine's address on a gateway node's subnet when gdoctor
    runs on the external host."""
    given = ctx.settings.external_host
    if given is not None:
        return given, None
    situation = ctx.host
    if situation is None or situation.view is None:
        raise NotApplicable(
            "no external host given: name it with --external-host IP (external_host in "
            "gdoctor.toml), or run gdoctor on the external host"
        )
    if situation.role is not HostRole.EXTERNAL:
        raise NotApplicable(
            "this machine is a gateway node, not the external host: name the external host "
            "with --external-host IP"
        )
    address = host_facts.external_address(situation.view, situation.facts)
    if address is None:
        raise NotApplicable(
            "this machine has no address on a gateway node's subnet to judge: name the "
            "external host with --external-host IP"
        )
    # The situation judged the owner with the same facts when it placed the machine.
    owner = situation.owner
    if owner.source is host_facts.OwnerSource.ROUTE and owner.context is not None:
        return address, Ownership((owner.context,), owner.reason)
    return address, None


def _host_route(host: str) -> str:
    return f"{host}/{ipaddress.ip_address(host).max_prefixlen}"


class ExternalHostOutsideClusterCidr(Check):
    id = "GD306"
    name = "external-host-outside-cluster-cidr"
    title = "The external host lies inside a clusterCIDR of the cluster that owns it"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "cidr", "cluster", "host"})
    explains = frozenset({"GD503", "GD603"})
    uses_host = True

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        reads: tuple[Read, ...] = submariner.submariner_reads(settings)
        if settings.external_host is not None and settings.host_cluster is None:
            # Only needed to find the owner when no clusterCIDR names the host.
            reads += (Read(kinds.ENDPOINTS),)
        return reads

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        host, route_owner = host_address(ctx)
        from_machine = ctx.settings.external_host is None
        ownership = owning_clusters(
            ctx.clusters, ctx.settings, host, route_owner, use_endpoints=not from_machine
        )
        view = ctx.cluster
        if view.name not in ownership.owners:
            owners = ", ".join(ownership.owners)
            raise NotApplicable(f"the external host {host} belongs to {owners}, not here")
        cr = require_submariner(ctx.cluster, ctx.settings)
        if submariner.global_cidr(view, ctx.settings) is None:
            raise NotApplicable("Globalnet is off here, so the host needs no global IP")
        applied = submariner.submariner_field(cr, FIELD)
        if contains_address(applied, host):
            return
        requested = _listed(cr, "spec")
        evidence: dict[str, Any] = {
            "externalHost": host,
            "externalHostFrom": "this machine" if from_machine else "--external-host",
            "ownedBecause": ownership.reason,
            FIELD: list(applied),
            f"spec.{FIELD}": list(requested),
        }
        route = _host_route(host)
        cidrs = ",".join([*(c for c in requested or applied if c != route), route])
        rejoin = (
            f"re-join this cluster with the host's /{route.rpartition('/')[2]} added to its "
            f"cluster CIDRs: `subctl join ... --clustercidr {cidrs}` (with the other flags of the "
            "original join); Globalnet then allocates the host a global IP."
        )
        if contains_address(requested, host):
            message = (
                f"the external host {host} is in spec.{FIELD} but not in the {FIELD} the "
                "operator applied (status), so Globalnet gives it no global IP"
            )
            remedy = (
                "Find in the submariner-operator logs why the spec was not applied, or " + rejoin
            )
        else:
            message = (
                f"the external host {host} is outside every {FIELD} of this cluster "
                f"({', '.join(applied) or 'none'}), so Globalnet gives it no global IP"
            )
            remedy = rejoin[0].upper() + rejoin[1:]
        yield self.finding(
            message,
            resources=[ref(view.name, kinds.SUBMARINERS, cr)],
            evidence=evidence,
            remedy=remedy,
        )
