"""Pure facts derived from a cluster view, shared by the engine and by checks.

One place for each fact: what counts as "Submariner is installed", the cluster id, ...
"""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject


def submariner_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.SUBMARINERS, settings.submariner_namespace),)


def submariner_cr(view: ClusterView, settings: Settings) -> KubeObject | None:
    """The Submariner CR of the cluster (the operator's single instance), if installed."""
    found = view.list(kinds.SUBMARINERS, settings.submariner_namespace)
    return found[0] if found else None


def cluster_id(view: ClusterView, settings: Settings) -> str | None:
    """The Submariner clusterID, when the cluster has a readable Submariner CR."""
    if not view.reachable:
        return None
    try:
        cr = submariner_cr(view, settings)
    except InputUnavailable:
        return None
    if cr is None:
        return None
    value = (cr.get("spec") or {}).get("clusterID")
    return str(value) if value else None
