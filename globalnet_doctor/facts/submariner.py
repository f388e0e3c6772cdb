"""Submariner itself: its CR (presence, cluster id, version, CIDR fields), the operator's
workloads and whether they run, and the broker's view of the clusters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject, NotApplicable

_VERSION = re.compile(r"(\d+)\.(\d+)")
# The operator's workloads (the Lighthouse CoreDNS one is facts.dns.LIGHTHOUSE_SERVICE).
GATEWAY = "submariner-gateway"
ROUTE_AGENT = "submariner-routeagent"
GLOBALNET = "submariner-globalnet"
LIGHTHOUSE_AGENT = "submariner-lighthouse-agent"


def submariner_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.SUBMARINERS, settings.submariner_namespace),)


def submariner_cr(view: ClusterView, settings: Settings) -> KubeObject | None:
    """The Submariner CR of the cluster (the operator's single instance), if installed."""
    found = view.list(kinds.SUBMARINERS, settings.submariner_namespace)
    return found[0] if found else None


def require_submariner(view: ClusterView, settings: Settings) -> KubeObject:
    """The Submariner CR; a check does not apply (``skip``) where Submariner is not installed."""
    cr = submariner_cr(view, settings)
    if cr is None:
        raise NotApplicable(
            f"Submariner is not installed (no Submariner CR in {settings.submariner_namespace})"
        )
    return cr


def cr_cluster_id(cr: KubeObject) -> str | None:
    """The clusterID the Submariner CR sets; None when it sets none."""
    value = objects.spec(cr).get("clusterID")
    return str(value) if value else None


def cluster_id(view: ClusterView, settings: Settings) -> str | None:
    """The Submariner clusterID, when the cluster has a readable Submariner CR."""
    if not view.reachable:
        return None
    try:
        cr = submariner_cr(view, settings)
    except InputUnavailable:
        return None
    return None if cr is None else cr_cluster_id(cr)


def broker_reads(settings: Settings) -> tuple[Read, ...]:
    """The broker's objects, read from every cluster (only the broker's namespace holds them)."""
    namespace = settings.broker_namespace
    return (
        Read(kinds.BROKERS, namespace),
        Read(kinds.SUBMARINER_CLUSTERS, namespace),
        Read(kinds.SUBMARINER_ENDPOINTS, namespace),
    )


def broker_view(clusters: Sequence[ClusterView], settings: Settings) -> ClusterView | None:
    """The broker: ``--broker-context``, else the first cluster holding a Broker object."""
    if settings.broker_context is not None:
        return next((v for v in clusters if v.name == settings.broker_context), None)
    for view in clusters:
        if not view.reachable:
            continue
        try:
            if view.list(kinds.BROKERS, settings.broker_namespace):
                return view
        except InputUnavailable:
            continue
    return None


@dataclass(frozen=True, slots=True)
class ClusterNetworks:
    """A cluster's networks as the broker's ``Cluster`` object advertises them."""

    cluster_id: str
    cluster_cidrs: tuple[str, ...]
    service_cidrs: tuple[str, ...]
    global_cidrs: tuple[str, ...]


def broker_clusters(broker: ClusterView, settings: Settings) -> dict[str, ClusterNetworks]:
    """clusterID -> networks, from the broker's ``clusters.submariner.io`` objects."""
    found: dict[str, ClusterNetworks] = {}
    for obj in broker.list(kinds.SUBMARINER_CLUSTERS, settings.broker_namespace):
        spec = objects.spec(obj)
        cluster_id = str(spec.get("cluster_id") or obj["metadata"]["name"])
        found[cluster_id] = ClusterNetworks(
            cluster_id=cluster_id,
            cluster_cidrs=_strings(spec.get("cluster_cidr")),
            service_cidrs=_strings(spec.get("service_cidr")),
            global_cidrs=_strings(spec.get("global_cidr")),
        )
    return found


def _strings(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(v) for v in value)


def submariner_field(cr: KubeObject, field_name: str) -> tuple[str, ...]:
    """A CIDR-list field of the Submariner CR: the status (what the operator discovered and
    applied) when set, else the spec. Values may be comma-separated strings or lists."""
    status = objects.status(cr).get(field_name)
    return _strings(status if status else objects.spec(cr).get(field_name))


def global_cidr(view: ClusterView, settings: Settings) -> str | None:
    """The cluster's Globalnet CIDR; None when Submariner is absent or Globalnet is off."""
    cr = submariner_cr(view, settings)
    if cr is None:
        return None
    cidrs = submariner_field(cr, "globalCIDR")
    return cidrs[0] if cidrs else None


def contexts_by_cluster_id(clusters: Sequence[ClusterView], settings: Settings) -> dict[str, str]:
    """Submariner clusterID -> the kubeconfig context of that cluster (where readable)."""
    found: dict[str, str] = {}
    for view in clusters:
        cid = cluster_id(view, settings)
        if cid is not None:
            found.setdefault(cid, view.name)
    return found


def submariner_version(cr: KubeObject) -> tuple[int, int] | None:
    """major.minor of the deployed Submariner (status, else spec); None when not a release
    number (``devel``, empty), which the checks treat as a current release."""
    for section in ("status", "spec"):
        text = str(objects.section(cr, section).get("version") or "")
        match = _VERSION.search(text)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def at_least(version: tuple[int, int] | None, release: tuple[int, int]) -> bool:
    return version is None or version >= release


def version_text(cr: KubeObject) -> str:
    for section in ("status", "spec"):
        text = objects.section(cr, section).get("version")
        if text:
            return str(text)
    return "unknown"


def daemonset_problem(daemonset: KubeObject | None, name: str) -> str | None:
    """Why the DaemonSet ``name`` does not run everywhere it should; None when it does."""
    if daemonset is None:
        return f"DaemonSet {name} does not exist"
    status = objects.status(daemonset)
    desired = int(status.get("desiredNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    if desired == 0:
        return f"DaemonSet {name} schedules no pod (no node matches it)"
    if ready < desired:
        return f"DaemonSet {name} has {ready} of {desired} pods ready"
    return None


def deployment_problem(deployment: KubeObject | None, name: str) -> str | None:
    """Why the Deployment ``name`` is not fully available; None when it is."""
    if deployment is None:
        return f"Deployment {name} does not exist"
    wanted = objects.spec(deployment).get("replicas", 1)
    available = int(objects.status(deployment).get("availableReplicas") or 0)
    if available < int(wanted):
        return f"Deployment {name} has {available} of {wanted} replicas available"
    return None
