"""GD307's fix: record the cluster's real global CIDR in the broker's ``clusterinfo``.

Bookkeeping only (no datapath change): this cluster's entry of the broker's
``submariner-globalnet-info`` ``clusterinfo`` is set to its ``globalCIDR`` (added when
missing), every other entry and key kept, re-serialised with tab indentation as the operator
writes it. Planned only when the CIDR overlaps no other cluster's entry. Undo restores the
journaled ConfigMap.
"""

from __future__ import annotations

from globalnet_doctor import kinds
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import overlaps
from globalnet_doctor.facts.global_ips import (
    CLUSTER_INFO_KEY,
    GLOBALNET_INFO,
    cluster_info,
    same_network,
    with_cluster_cidr,
)
from globalnet_doctor.facts.submariner import (
    broker_view,
    cr_cluster_id,
    require_submariner,
    submariner_field,
)
from globalnet_doctor.fixspec import Fix, FixContext, KubeChange, PlanError, Safety, Step, updated


class RecordGlobalCidrAtBroker(Fix):
    id = "GD307"
    title = "record the cluster's global CIDR in the broker's submariner-globalnet-info"
    safety = Safety.SAFE
    order = 30

    def plan(self, ctx: FixContext) -> list[Step]:
        settings = ctx.settings
        cr = require_submariner(ctx.cluster, settings)
        cluster_id = cr_cluster_id(cr)
        cidrs = submariner_field(cr, "globalCIDR")
        broker = broker_view(ctx.clusters, settings)
        if cluster_id is None or not cidrs or broker is None:
            return []
        cidr = cidrs[0]
        configmap = broker.get(kinds.CONFIGMAPS, GLOBALNET_INFO, settings.broker_namespace)
        if configmap is None:
            return []
        entries = cluster_info(configmap)
        if entries is None:
            raise PlanError(f"{CLUSTER_INFO_KEY} is not a JSON list: repair it by hand")
        own = [e for e in entries if e.cluster_id == cluster_id]
        if (
            len(own) == 1
            and len(own[0].global_cidrs) == 1
            and same_network(own[0].global_cidrs[0], cidr)
        ):
            return []
        clashes = [
            f"{e.cluster_id} ({c})"
            for e in entries
            if e.cluster_id != cluster_id
            for c in e.global_cidrs
            if overlaps(c, cidr)
        ]
        if clashes:
            raise PlanError(
                f"{cluster_id}'s global CIDR {cidr} overlaps {', '.join(clashes)} in the broker's "
                f"{CLUSTER_INFO_KEY}: re-address one of the clusters (GD304)"
            )
        text = str(objects.data(configmap).get(CLUSTER_INFO_KEY) or "[]")
        new_text = with_cluster_cidr(text, cluster_id, cidr)
        if new_text == text:
            return []
        after = updated(configmap)
        after["data"] = {**dict(objects.data(configmap)), CLUSTER_INFO_KEY: new_text}
        return [
            KubeChange(
                broker.name,
                kinds.CONFIGMAPS,
                settings.broker_namespace,
                GLOBALNET_INFO,
                configmap,
                after,
                f"set {cluster_id}'s {CLUSTER_INFO_KEY} entry to [{cidr}] (bookkeeping only)",
            )
        ]
