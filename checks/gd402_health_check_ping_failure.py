"""GD402: the gateway health check cannot ping a remote cluster's health-check IP.

The finding names the pair of clusters and the likely root causes, judged by the same
predicates as GD101, GD201, GD203, GD304, GD003 and GD309 (shared functions, whether or not those
checks were selected), on both clusters of the pair. GD408's ESP filtering (a status-side
inference: the cable is up, its pings are lost, plain ESP) is named only when none of those holds.
Route agents report per-node health only from Submariner 0.19: before, their silence says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import gateways as gateway_facts
from globalnet_doctor.facts import health_check_causes as causes
from globalnet_doctor.facts import kube_proxy, objects, submariner
from globalnet_doctor.facts.submariner import require_submariner
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, InputUnavailable, KubeObject

from . import gd201_calico_not_vxlan as calico_encapsulation
from . import gd203_calico_ippools_missing as calico_ippools
from . import gd304_cidr_overlap as cidr_overlap

Predicate = Callable[[ClusterView, Sequence[ClusterView], Settings], list[str]]


def _ipvs(view: ClusterView, clusters: Sequence[ClusterView], settings: Settings) -> list[str]:
    evidence = kube_proxy.ipvs_evidence(view)
    return [f"kube-proxy runs in IPVS mode ({', '.join(sorted(evidence))})"] if evidence else []


def _encapsulation(
    view: ClusterView, clusters: Sequence[ClusterView], settings: Settings
) -> list[str]:
    return calico_encapsulation.calico_encapsulation_problems(view)


ROOT_CAUSES: tuple[tuple[str, Predicate], ...] = (
    ("GD101", _ipvs),
    ("GD201", _encapsulation),
    ("GD203", calico_ippools.missing_pool_problems),
    ("GD304", cidr_overlap.overlap_problems),
    ("GD003", causes.cluster_cidr_mismatch_problems),
    ("GD309", causes.stale_global_ip_problems),
)
BY_ELIMINATION: tuple[tuple[str, Predicate], ...] = (("GD408", causes.esp_filtered_problems),)
"""Causes inferred from the status alone, named only when no cause above holds on the pair."""
ROUTE_AGENT_HEALTH = (0, 19)
"""RouteAgent objects with per-node health first ship in 0.19 (commit ``303a59c9``)."""


def root_cause_reads(settings: Settings) -> tuple[Read, ...]:
    return (
        *kube_proxy.READS,
        *calico_encapsulation.encapsulation_reads(settings),
        *calico_ippools.pool_reads(settings),
        *cidr_overlap.overlap_reads(settings),
        *causes.cluster_cidr_reads(settings),
        *causes.stale_global_ip_reads(settings),
        *causes.esp_filtered_reads(settings),
    )


def root_causes(
    views: Iterable[ClusterView], clusters: Sequence[ClusterView], settings: Settings
) -> list[dict[str, Any]]:
    """Every root-cause predicate on each of the views; a predicate that cannot judge says why.
    The causes inferred by elimination are judged only when no other cause holds."""
    pair = list(views)
    found = known_root_causes(pair, clusters, settings)
    if not any("problem" in c for c in found):
        found.extend(_judge(pair, clusters, settings, BY_ELIMINATION))
    return found


def known_root_causes(
    views: Sequence[ClusterView], clusters: Sequence[ClusterView], settings: Settings
) -> list[dict[str, Any]]:
    """The root causes judged by other checks' predicates (not those inferred by elimination)."""
    return _judge(views, clusters, settings, ROOT_CAUSES)


def _judge(
    views: Sequence[ClusterView],
    clusters: Sequence[ClusterView],
    settings: Settings,
    predicates: Sequence[tuple[str, Predicate]],
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for view in views:
        for check_id, predicate in predicates:
            try:
                problems = predicate(view, clusters, settings)
            except InputUnavailable as exc:
                found.append({"cluster": view.name, "check": check_id, "unknown": exc.reason})
                continue
            found.extend({"cluster": view.name, "check": check_id, "problem": p} for p in problems)
    return found


def route_agent_failures(view: ClusterView, settings: Settings, remote_id: str) -> list[str] | None:
    """Nodes whose route agent also fails to ping the remote cluster (a per-node datapath view);
    None where route agents do not report it (Submariner before 0.19, or no RouteAgent kind)."""
    cr = submariner.submariner_cr(view, settings)
    if cr is None or not submariner.at_least(submariner.submariner_version(cr), ROUTE_AGENT_HEALTH):
        return None
    try:
        agents = view.list(kinds.ROUTE_AGENTS, settings.submariner_namespace)
    except InputUnavailable:
        return None
    failing = []
    for agent in agents:
        for remote in objects.status(agent).get("remoteEndpoints") or []:
            spec = objects.spec(remote)
            if spec.get("cluster_id") == remote_id and remote.get("status") == "error":
                failing.append(str(agent["metadata"]["name"]))
    return sorted(failing)


class HealthCheckPingFailure(Check):
    id = "GD402"
    name = "health-check-ping-failure"
    title = "Gateway health-check pings to every remote cluster succeed"
    severity = Severity.ERROR
    tags = frozenset({"gateway", "connection", "globalnet", "cluster"})
    explains = frozenset({"GD503", "GD603"})
    fix = "GD402"

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *submariner.submariner_reads(settings),
            *gateway_facts.gateway_reads(settings),
            Read(kinds.ROUTE_AGENTS, settings.submariner_namespace),
            *root_cause_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        require_submariner(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        contexts = submariner.contexts_by_cluster_id(ctx.clusters, settings)
        for gateway in gateway_facts.gateways(view, settings):
            for connection in gateway_facts.connections(gateway):
                if connection.ping_failure_ip is not None:
                    yield self._failure(ctx, gateway, connection, contexts)

    def _failure(
        self,
        ctx: CheckContext,
        gateway: KubeObject,
        connection: gateway_facts.Connection,
        contexts: dict[str, str],
    ) -> Finding:
        view, settings = ctx.cluster, ctx.settings
        remote_id = connection.remote_cluster_id
        remote_context = contexts.get(remote_id)
        pair = [view] + [v for v in ctx.clusters if v.name == remote_context]
        causes = root_causes(pair, ctx.clusters, settings)
        problems = [c for c in causes if "problem" in c]
        local_id = submariner.cluster_id(view, settings) or view.name
        known = ", ".join(check_id for check_id, _ in (*ROOT_CAUSES, *BY_ELIMINATION))
        summary = (
            "; likely causes: "
            + "; ".join(dict.fromkeys(f"{c['check']} on {c['cluster']}" for c in problems))
            if problems
            else f"; none of the known root causes ({known}) holds"
        )
        agents = route_agent_failures(view, settings, remote_id)
        if agents:
            summary += f"; the route agents on {', '.join(agents)} fail too"
        elif agents is not None:
            summary += "; no route agent fails (the gateway's path alone)"
        return self.finding(
            f"health-check pings from {local_id} ({view.name}) to {remote_id} "
            f"({remote_context or 'not in the kubeconfig'}) at {connection.ping_failure_ip} "
            f"fail{summary}",
            resources=[ref(view.name, kinds.GATEWAYS, gateway)],
            evidence={
                "gateway": gateway["metadata"]["name"],
                "remoteClusterID": remote_id,
                "healthCheckIP": connection.ping_failure_ip,
                "statusMessage": connection.message,
                "routeAgentsFailingToo": agents,
                "rootCauses": causes,
            },
            related_clusters=[remote_context] if remote_context else [],
            remedy=(
                "Fix the root causes listed first (their checks have fixes). Disabling the "
                "health check (`gdoctor fix GD402 --unsafe`, what `subctl join "
                "--health-check=false` does) is a last resort: it hides the failure, it does not "
                "cure it, and Lighthouse will then answer for a cluster it cannot reach."
            ),
        )
