"""What the machine gdoctor runs on means to the clusters: pure facts over the views.

From the host view combined with the clusters' facts (``facts.clusterset``): whether host checks
run here, the machine's role (a gateway node, or an external host) and the cluster that owns
it. Host checks and host fixes get the one ``HostSituation`` of the run.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from globalnet_doctor.config import Settings
from globalnet_doctor.facts.cidrs import covers
from globalnet_doctor.facts.clusterset import ClusterFacts, NodeAddress
from globalnet_doctor.facts.submariner import contexts_by_cluster_id
from globalnet_doctor.host_view import HostRole, HostView
from globalnet_doctor.view import ClusterView


class HostMode(enum.StrEnum):
    AUTO = "auto"
    """Host checks run when the machine is a neighbour of a gateway node."""
    ON = "on"
    """``--host``: they run whatever the machine's addresses."""
    OFF = "off"
    """``--no-host``."""


# -- the machine among the clusters ------------------------------------------------------------


class OwnerSource(enum.StrEnum):
    GATEWAY_NODE = "gateway-node"
    FLAG = "flag"
    ROUTE = "route"
    CLUSTER_CIDR = "cluster-cidr"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Ownership:
    context: str | None
    reason: str
    source: OwnerSource = OwnerSource.UNKNOWN


@dataclass(frozen=True, slots=True)
class HostSituation:
    """Whether host checks run on this machine, in which role, for which cluster."""

    applies: bool
    reason: str
    """Why host checks skip here (with the flag that would run them), or why they run."""
    view: HostView | None = None
    role: HostRole | None = None
    node: NodeAddress | None = None
    """For a gateway node: which node this machine is."""
    owner: Ownership = Ownership(None, "not judged")
    error: str | None = None
    """Why it cannot be told whether host checks run here (a cluster could not be read): host
    checks then report ``error``, not ``skip``."""
    facts: ClusterFacts = field(default_factory=ClusterFacts)
    """The clusters' facts this situation was judged on, computed once per run: host checks and
    host fixes read these, never their own copy."""

    def owner_view(self, clusters: Sequence[ClusterView]) -> ClusterView:
        """The view a host check (and its fix) is run with: the owning cluster's, else the
        first cluster's (``clusters`` must not be empty)."""
        return next((v for v in clusters if v.name == self.owner.context), clusters[0])


HOST_CHECKS_OFF = HostSituation(
    False, "host checks are turned off (--no-host); drop it to run them"
)


def gateway_node_of(view: HostView, cluster_facts: ClusterFacts) -> NodeAddress | None:
    """The gateway node this machine is, when one of its addresses is a gateway's InternalIP."""
    own = {a.address for a in view.addresses}
    return next((n for n in cluster_facts.gateway_nodes if n.address in own), None)


def neighbour_gateways(view: HostView, cluster_facts: ClusterFacts) -> list[NodeAddress]:
    """Gateway nodes on a subnet this machine has an address on."""
    return [n for n in cluster_facts.gateway_nodes if view.addresses_reaching(n.address)]


def suggested_gateway(
    view: HostView, cluster_facts: ClusterFacts, owner: str | None
) -> NodeAddress | None:
    """A gateway node on a connected subnet, of the owning cluster when it is known (where the
    machine's route to the global CIDR should go)."""
    candidates = [n for n in cluster_facts.gateway_nodes if view.addresses_reaching(n.address)]
    preferred = [n for n in candidates if owner is None or n.context == owner]
    chosen = preferred or candidates
    return chosen[0] if chosen else None


def external_address(view: HostView, cluster_facts: ClusterFacts) -> str | None:
    """The address by which the clusters know this machine: the one on a gateway node's
    subnet (the source the kernel picks towards the gateway), else the source of its route to
    the global CIDR."""
    for node in cluster_facts.gateway_nodes:
        lookup = view.route_lookups.get(node.address)
        if lookup is not None and lookup.source and view.address_of(lookup.source):
            return lookup.source
        reaching = view.addresses_reaching(node.address)
        if reaching:
            return reaching[0].address
    lookup = view.route_lookups.get(cluster_facts.range_probe_address())
    return lookup.source if lookup is not None and lookup.source else None


def ownership(
    view: HostView,
    cluster_facts: ClusterFacts,
    clusters: Sequence[ClusterView],
    settings: Settings,
) -> Ownership:
    """The cluster that owns this machine: a gateway node's own cluster; else
    ``--host-cluster``; else the cluster of the gateway its route to the global CIDR goes
    through; else the cluster whose Submariner CR lists one of its addresses in clusterCIDR."""
    node = gateway_node_of(view, cluster_facts)
    if node is not None:
        return Ownership(
            node.context, f"this machine is {node.describe()}", OwnerSource.GATEWAY_NODE
        )
    if settings.host_cluster is not None:
        by_id = contexts_by_cluster_id(clusters, settings)
        named = by_id.get(settings.host_cluster, settings.host_cluster)
        if any(v.name == named for v in clusters):
            return Ownership(named, "--host-cluster", OwnerSource.FLAG)
        return Ownership(None, f"--host-cluster {settings.host_cluster} is no context of this run")
    gateways = {n.address: n for n in cluster_facts.gateway_nodes}
    candidates = [(cluster_facts.global_range, cluster_facts.range_probe_address())]
    candidates += [(c.cidr, c.probe_address) for c in cluster_facts.global_cidrs]
    for cidr, address in candidates:
        lookup = view.route_lookups.get(address)
        if lookup is not None and lookup.gateway in gateways:
            gateway = gateways[lookup.gateway]
            return Ownership(
                gateway.context,
                f"its route to {cidr} goes through {gateway.describe()}",
                OwnerSource.ROUTE,
            )
    own = [a.address for a in view.global_addresses()]
    for context, cidrs in cluster_facts.cluster_cidrs:
        for address in own:
            if any(covers(cidr, address) for cidr in cidrs):
                return Ownership(
                    context,
                    f"the Submariner CR of {context} lists {address} in clusterCIDR",
                    OwnerSource.CLUSTER_CIDR,
                )
    return Ownership(
        None,
        "no route to the global CIDR goes through a gateway node and no clusterCIDR lists "
        "this machine (name its cluster with --host-cluster CONTEXT)",
    )


def situation(
    view: HostView | None,
    cluster_facts: ClusterFacts,
    clusters: Sequence[ClusterView],
    settings: Settings,
    mode: HostMode,
) -> HostSituation:
    """The catalogue's "When host checks run", judged on what was read."""
    if mode is HostMode.OFF:
        return HOST_CHECKS_OFF
    if view is None:
        return HostSituation(False, "the machine was not read")
    node = gateway_node_of(view, cluster_facts)
    neighbours = neighbour_gateways(view, cluster_facts)
    if mode is HostMode.AUTO and node is None and not neighbours:
        reason = _not_a_neighbour(cluster_facts)
        unread = [v.name for v in clusters if not v.reachable]
        if unread:
            # The missing gateway may be in a cluster that could not be read.
            return HostSituation(
                False,
                reason,
                view,
                error=f"cannot tell whether this machine is a neighbour of a gateway node: "
                f"{', '.join(unread)} could not be read (run with --host to check it anyway)",
                facts=cluster_facts,
            )
        return HostSituation(False, reason, view, facts=cluster_facts)
    role = HostRole.GATEWAY if node is not None else HostRole.EXTERNAL
    if node is not None:
        why = f"this machine is {node.describe()}"
    elif neighbours:
        why = "this machine is a neighbour of " + ", ".join(n.describe() for n in neighbours)
    else:
        why = "--host"
    owner = ownership(view, cluster_facts, clusters, settings)
    return HostSituation(True, why, view, role, node, owner, facts=cluster_facts)


def _not_a_neighbour(cluster_facts: ClusterFacts) -> str:
    # The machine's own addresses stay out of the reason: it must read the same on every
    # machine that is not a neighbour (reports are compared across runs and machines).
    gateways = cluster_facts.gateway_nodes
    if not gateways:
        unread = f" ({'; '.join(cluster_facts.unavailable)})" if cluster_facts.unavailable else ""
        return (
            "no gateway node (label submariner.io/gateway=true) was found in the clusters read"
            f"{unread}, so this machine cannot be placed among them; run with --host to check "
            "it anyway"
        )
    listed = ", ".join(f"{n.address} ({n.node} of {n.context})" for n in gateways)
    return (
        f"this machine has no address on a subnet holding a gateway node's InternalIP "
        f"({listed}), so it is not a neighbour of the gateways; run with --host to check it "
        "anyway"
    )
