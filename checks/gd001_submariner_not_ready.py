"""GD001: Submariner is installed and every part of it is ready."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.dns import LIGHTHOUSE_SERVICE
from globalnet_doctor.facts.submariner import (
    GATEWAY,
    GLOBALNET,
    LIGHTHOUSE_AGENT,
    ROUTE_AGENT,
    daemonset_problem,
    deployment_problem,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject

_STATUS_FIELDS = (
    "gatewayDaemonSetStatus",
    "routeAgentDaemonSetStatus",
    "globalnetDaemonSetStatus",
)


def service_discovery_enabled(view: ClusterView, settings: Settings, cr: KubeObject) -> bool:
    if objects.spec(cr).get("serviceDiscoveryEnabled"):
        return True
    return bool(view.list(kinds.SERVICE_DISCOVERIES, settings.submariner_namespace))


def non_ready_containers(cr: KubeObject) -> dict[str, Any]:
    """``Submariner.status.*DaemonSetStatus.nonReadyContainerStates``, by DaemonSet status field."""
    status = objects.status(cr)
    found: dict[str, Any] = {}
    for field in _STATUS_FIELDS:
        states = (status.get(field) or {}).get("nonReadyContainerStates")
        if states:
            found[field] = states
    return found


class SubmarinerNotReady(Check):
    id = "GD001"
    name = "submariner-not-ready"
    title = (
        "Submariner is installed and its gateway, route agent, globalnet and lighthouse are ready"
    )
    severity = Severity.ERROR
    tags = frozenset({"deployment", "cluster"})
    explains = frozenset({"GD302", "GD402", "GD403", "GD503", "GD603"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        namespace = settings.submariner_namespace
        return (
            *submariner.submariner_reads(settings),
            Read(kinds.SERVICE_DISCOVERIES, namespace),
            *(Read(kinds.DAEMONSETS, namespace, n) for n in (GATEWAY, ROUTE_AGENT, GLOBALNET)),
            *(
                Read(kinds.DEPLOYMENTS, namespace, n)
                for n in (LIGHTHOUSE_AGENT, LIGHTHOUSE_SERVICE)
            ),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        namespace = settings.submariner_namespace
        cr = submariner.submariner_cr(view, settings)
        if cr is None:
            yield self.finding(
                f"Submariner is not installed: no Submariner CR in {namespace}",
                evidence={"namespace": namespace},
                remedy="Join the cluster with `subctl join` (or pass --submariner-namespace if "
                "the operator runs elsewhere).",
            )
            return
        daemonsets = [GATEWAY, ROUTE_AGENT]
        if submariner.global_cidr(view, settings):
            daemonsets.append(GLOBALNET)
        deployments = []
        if service_discovery_enabled(view, settings, cr):
            deployments = [LIGHTHOUSE_AGENT, LIGHTHOUSE_SERVICE]
        for name in daemonsets:
            daemonset = view.get(kinds.DAEMONSETS, name, namespace)
            problem = daemonset_problem(daemonset, name)
            if problem is not None:
                yield self._not_ready(view, namespace, kinds.DAEMONSETS, daemonset, problem)
        for name in deployments:
            deployment = view.get(kinds.DEPLOYMENTS, name, namespace)
            problem = deployment_problem(deployment, name)
            if problem is not None:
                yield self._not_ready(view, namespace, kinds.DEPLOYMENTS, deployment, problem)
        containers = non_ready_containers(cr)
        if containers:
            yield self.finding(
                "the Submariner CR reports containers that are not ready",
                resources=[ref(view.name, kinds.SUBMARINERS, cr)],
                evidence={"nonReadyContainerStates": containers},
                remedy=f"Look at the pods' events and logs in {namespace} "
                f"(kubectl -n {namespace} get pods; kubectl -n {namespace} logs <pod>).",
            )

    def _not_ready(
        self,
        view: ClusterView,
        namespace: str,
        kind: kinds.Kind,
        obj: KubeObject | None,
        problem: str,
    ) -> Finding:
        status = objects.status(obj)
        return self.finding(
            problem,
            resources=[ref(view.name, kind, obj)] if obj is not None else [],
            evidence={"status": dict(status)} if obj is not None else {"exists": False},
            remedy=f"Look at the pods' events and logs (kubectl -n {namespace} describe pods); "
            "a missing part means the operator has not deployed it yet.",
        )
