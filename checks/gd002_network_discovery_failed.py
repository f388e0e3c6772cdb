"""GD002: the operator deployed Submariner, i.e. its network discovery did not fail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.deployment import (
    DISCOVERY_FIXED_IN,
    OPERATOR,
    SERVICE_RANGE_UNREPORTED_FROM,
    apiserver_names_service_range,
    kubernetes_minor,
    operator_release,
    release_text,
    workload_reads,
)
from globalnet_doctor.facts.submariner import GATEWAY, ROUTE_AGENT
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, NotApplicable, ref
from globalnet_doctor.view import ClusterView, KubeObject


def age_seconds(obj: KubeObject, observed_at: datetime) -> float:
    """Seconds from the object's creation to the observation; 0 when the server gave no
    creation time (never the case on a real server), so the object counts as new."""
    text = objects.metadata(obj).get("creationTimestamp")
    try:
        created = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, (observed_at - created).total_seconds())


def discovery_causes(view: ClusterView, namespace: str) -> dict[str, str]:
    """The reasons, of the three that make the operator's generic discovery fail (#3676,
    operator#3627), that hold here: name -> what was seen."""
    causes: dict[str, str] = {}
    if not apiserver_names_service_range(view.list(kinds.PODS)):
        causes["noApiserverPod"] = (
            "no kube-apiserver pod shows --service-cluster-ip-range, so the operator falls "
            "back to creating Service invalid-svc with clusterIP 1.1.1.1 and parsing the error"
        )
    minor = kubernetes_minor(view.kubernetes_version)
    if view.has(kinds.SERVICE_CIDRS):
        causes["serviceCidrApi"] = (
            f"the ServiceCIDR API is served ({view.api_version(kinds.SERVICE_CIDRS)}): a "
            "refused Service create may no longer name the valid range"
        )
    elif minor is not None and minor >= SERVICE_RANGE_UNREPORTED_FROM:
        causes["serviceCidrApi"] = (
            f"Kubernetes {view.kubernetes_version} no longer names the valid range when it "
            "refuses a Service create"
        )
    found = operator_release(view.get(kinds.DEPLOYMENTS, OPERATOR, namespace))
    if found is not None and found < DISCOVERY_FIXED_IN:
        causes["operatorRelease"] = (
            f"operator {release_text(found)} predates {release_text(DISCOVERY_FIXED_IN)}, "
            "which reads the ServiceCIDR API instead"
        )
    return causes


class NetworkDiscoveryFailed(Check):
    id = "GD002"
    name = "network-discovery-failed"
    title = "the Submariner operator discovered the cluster's networks and deployed Submariner"
    severity = Severity.ERROR
    tags = frozenset({"deployment", "cluster"})
    explains = frozenset({"GD001", "GD402", "GD403"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (*workload_reads(settings), Read(kinds.PODS), Read(kinds.SERVICE_CIDRS))

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        view, settings = ctx.cluster, ctx.settings
        namespace = settings.submariner_namespace
        cr = submariner.require_submariner(view, settings)
        deployed = [n for n in (GATEWAY, ROUTE_AGENT) if view.get(kinds.DAEMONSETS, n, namespace)]
        status = objects.status(cr)
        if deployed or status.get("clusterID") or status.get("networkPlugin"):
            return  # the operator got past discovery
        age = age_seconds(cr, view.observed_at)
        if age < settings.install_grace_seconds:
            raise NotApplicable(
                "the Submariner CR is younger than the install grace period "
                f"({settings.install_grace_seconds:.0f} s, --install-grace-seconds): the "
                "operator may still be deploying it"
            )
        causes = discovery_causes(view, namespace)
        explained = len(causes) == 3
        yield self.finding(
            "the operator has not deployed Submariner within the install grace period "
            f"({settings.install_grace_seconds:.0f} s): DaemonSets {GATEWAY} and {ROUTE_AGENT} "
            "are absent and the CR's status "
            "was never written (no clusterID, no networkPlugin)"
            + ("; its network discovery cannot work on this cluster" if explained else ""),
            resources=[ref(view.name, kinds.SUBMARINERS, cr)],
            evidence={
                "ageSeconds": round(age),
                "kubernetesVersion": view.kubernetes_version,
                "discoveryCauses": causes,
            },
            remedy=self._remedy(namespace, explained),
        )

    @staticmethod
    def _remedy(namespace: str, explained: bool) -> str:
        log = (
            f"kubectl -n {namespace} logs deploy/{OPERATOR} | grep 'error discovering "
            "cluster network'"
        )
        if explained:
            return (
                f"Upgrade the operator: `subctl upgrade --to-version "
                f"v{release_text(DISCOVERY_FIXED_IN)}` or later. Passing --clustercidr/"
                "--servicecidr does not help on affected releases: discovery still runs and "
                f"its error aborts the reconcile (operator#3820). Confirm with `{log}`."
            )
        return f"Read why the operator stops: `{log}` (or the operator's other errors)."
