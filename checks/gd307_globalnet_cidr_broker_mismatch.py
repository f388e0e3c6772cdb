"""GD307: the broker records the global CIDR each cluster really uses.

The broker's ConfigMap ``submariner-globalnet-info`` keeps, in ``clusterinfo``, the global CIDR
handed to each clusterID at join. A later ``subctl join`` of the cluster reuses that entry
whatever ``--globalnet-cidr`` says ("A pre-configured global CIDR %s was detected - not using
the specified CIDR %s"), and other clusters' automatic allocation avoids the recorded CIDR, not
the one in use. The broker's Cluster and Endpoint advertise what the gateway was started with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import covers, overlaps
from globalnet_doctor.facts.global_ips import (
    CLUSTER_INFO_KEY,
    ENABLED_KEY,
    GLOBALNET_INFO,
    ClusterInfo,
    cluster_info,
    globalnet_info_read,
    globalnet_range,
    same_network,
)
from globalnet_doctor.facts.submariner import (
    broker_reads,
    broker_view,
    cr_cluster_id,
    require_submariner,
    submariner_field,
    submariner_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject, NotApplicable


def broker_globalnet_enabled(
    broker: ClusterView, settings: Settings, configmap: KubeObject | None
) -> bool | None:
    """What the broker says of Globalnet: the ConfigMap's ``globalnetEnabled``, else the Broker
    CR's ``spec.globalnetEnabled``; None when neither says."""
    value = objects.data(configmap).get(ENABLED_KEY)
    if value is not None:
        return str(value).strip().lower() == "true"
    for obj in broker.list(kinds.BROKERS, settings.broker_namespace):
        enabled = objects.spec(obj).get("globalnetEnabled")
        if enabled is not None:
            return enabled is True or str(enabled).lower() == "true"
    return None


def ledger_problems(
    entries: Sequence[ClusterInfo], cluster_id: str, cidr: str, whole_range: str | None
) -> list[str]:
    """Why this cluster's ``clusterinfo`` entry is wrong (empty when it is right)."""
    own = [e for e in entries if e.cluster_id == cluster_id]
    if not own:
        return []
    problems: list[str] = []
    recorded = own[0].global_cidrs[0] if own[0].global_cidrs else ""
    if not same_network(recorded, cidr):
        problems.append(f"records {recorded or 'no CIDR'} for {cluster_id}, which uses {cidr}")
    for entry in own:
        for value in entry.global_cidrs:
            if whole_range and covers(value, whole_range):
                problems.append(f"{cluster_id}'s entry {value} holds the whole range {whole_range}")
            for other in entries:
                if other.cluster_id == cluster_id or same_network(value, cidr):
                    continue  # a right entry that overlaps another is the other's problem
                clash = [o for o in other.global_cidrs if overlaps(o, value)]
                if clash:
                    problems.append(
                        f"{cluster_id}'s entry {value} overlaps {other.cluster_id}'s "
                        f"{', '.join(clash)}"
                    )
    return problems


class GlobalnetCidrBrokerMismatch(Check):
    id = "GD307"
    name = "globalnet-cidr-broker-mismatch"
    title = "The broker records and advertises the global CIDR the cluster uses"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "broker", "cluster"})
    explains = frozenset({"GD302", "GD303"})
    fix = "GD307"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*submariner_reads(settings), *broker_reads(settings), globalnet_info_read(settings))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        cr = require_submariner(view, settings)
        cluster_id = cr_cluster_id(cr)
        cidrs = submariner_field(cr, "globalCIDR")
        cidr = cidrs[0] if cidrs else None
        broker = broker_view(ctx.clusters, settings)
        if broker is None or not broker.reachable:
            raise NotApplicable("the broker is not in this run (name it with --broker-context)")
        if cluster_id is None:
            raise NotApplicable("the Submariner CR sets no clusterID")
        namespace = settings.broker_namespace
        configmap = broker.get(kinds.CONFIGMAPS, GLOBALNET_INFO, namespace)
        enabled = broker_globalnet_enabled(broker, settings, configmap)
        clusters = [
            c
            for c in broker.list(kinds.SUBMARINER_CLUSTERS, namespace)
            if str(objects.spec(c).get("cluster_id") or objects.name(c)) == cluster_id
        ]
        endpoints = [
            e
            for e in broker.list(kinds.SUBMARINER_ENDPOINTS, namespace)
            if objects.spec(e).get("cluster_id") == cluster_id
        ]
        related = [broker.name] if broker is not view else []
        if cidr is None:
            if enabled and (clusters or endpoints):
                yield self.finding(
                    f"the broker has Globalnet on, but {cluster_id} joined without a global CIDR "
                    "(mixed clusterset: its pods are unreachable from the others)",
                    resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                    evidence={"brokerGlobalnetEnabled": enabled, "globalCIDR": None},
                    remedy="Re-join the cluster with Globalnet (`subctl join` against this broker "
                    "allocates a global CIDR), or give every cluster non-overlapping CIDRs and "
                    "a broker without Globalnet.",
                    related_clusters=related,
                )
                return
            raise NotApplicable("Globalnet is off (the Submariner CR has no globalCIDR)")
        if enabled is False:
            yield self.finding(
                f"{cluster_id} uses the global CIDR {cidr}, but the broker has Globalnet off "
                "(mixed clusterset, or a globalCIDR written into the CR by hand)",
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence={"brokerGlobalnetEnabled": enabled, "globalCIDR": cidr},
                remedy="Deploy the broker with `subctl deploy-broker --globalnet` and re-join "
                "every cluster, or remove the globalCIDR and re-join without Globalnet.",
                related_clusters=related,
            )
        yield from self._ledger(ctx, broker, configmap, cluster_id, cidr, related)
        for obj in clusters:
            advertised = [str(c) for c in objects.spec(obj).get("global_cidr") or []]
            if not advertised or not same_network(advertised[0], cidr):
                yield self.finding(
                    f"the broker's Cluster {objects.name(obj)} advertises global CIDR "
                    f"{', '.join(advertised) or 'none'}, but {cluster_id} uses {cidr}",
                    resources=[ref(broker.name, kinds.SUBMARINER_CLUSTERS, obj)],
                    evidence={"advertised": advertised, "globalCIDR": cidr},
                    remedy="The gateway publishes it at start: restart it after a CR edit "
                    f"(kubectl -n {settings.submariner_namespace} rollout restart "
                    "daemonset/submariner-gateway).",
                    related_clusters=related,
                )
        for obj in endpoints:
            subnets = [str(s) for s in objects.spec(obj).get("subnets") or []]
            if not any(same_network(s, cidr) for s in subnets):
                yield self.finding(
                    f"the broker's Endpoint {objects.name(obj)} advertises subnets "
                    f"{', '.join(subnets) or 'none'}, but {cluster_id} uses the global CIDR {cidr}",
                    resources=[ref(broker.name, kinds.SUBMARINER_ENDPOINTS, obj)],
                    evidence={"subnets": subnets, "globalCIDR": cidr},
                    remedy="The gateway publishes its Endpoint at start: restart it "
                    f"(kubectl -n {settings.submariner_namespace} rollout restart "
                    "daemonset/submariner-gateway).",
                    related_clusters=related,
                )

    def _ledger(
        self,
        ctx: CheckContext,
        broker: ClusterView,
        configmap: KubeObject | None,
        cluster_id: str,
        cidr: str,
        related: list[str],
    ) -> Iterable[Finding]:
        if configmap is None:
            return
        resources = [ref(broker.name, kinds.CONFIGMAPS, configmap)]
        entries = cluster_info(configmap)
        raw = objects.data(configmap).get(CLUSTER_INFO_KEY)
        evidence: dict[str, Any] = {"clusterinfo": raw, "globalCIDR": cidr}
        if entries is None:
            yield self.finding(
                f"the broker's {GLOBALNET_INFO} holds a {CLUSTER_INFO_KEY} that is not a JSON list "
                "of entries: the next join fails to read it",
                resources=resources,
                evidence=evidence,
                remedy=f"Repair {CLUSTER_INFO_KEY} by hand: a JSON list of "
                '{"cluster_id": ..., "global_cidr": [...]}.',
                related_clusters=related,
            )
            return
        whole_range = globalnet_range(configmap)
        evidence["globalnetCidrRange"] = whole_range
        if not any(e.cluster_id == cluster_id for e in entries):
            yield self.finding(
                f"the broker's {GLOBALNET_INFO} has no entry for {cluster_id} (global CIDR "
                f"{cidr}): a later join may hand that CIDR to another cluster",
                severity=Severity.WARNING,
                resources=resources,
                evidence=evidence,
                remedy="`gdoctor fix GD307` records it.",
                related_clusters=related,
            )
            return
        problems = ledger_problems(entries, cluster_id, cidr, whole_range)
        if problems:
            yield self.finding(
                f"the broker's {GLOBALNET_INFO} disagrees with {cluster_id}: "
                + "; ".join(problems),
                resources=resources,
                evidence={**evidence, "problems": problems},
                remedy=f"`gdoctor fix GD307` sets {cluster_id}'s entry to {cidr} (when it overlaps "
                "no other entry); a re-join reuses the recorded CIDR until then.",
                related_clusters=related,
            )
