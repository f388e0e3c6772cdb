"""GD302: every exported Service has its global IP.

A ClusterIP export needs a GlobalIngressIP with ``status.allocatedIP`` and (Globalnet 0.12+) an
internal Service whose ``externalIPs[0]`` is that IP; a headless export needs one allocated
``pod-*`` / ``ep-*`` GlobalIngressIP per backend, and is never judged by a service-named one (the
false positive of ``subctl diagnose``). When the IP is missing it tells apart "admission rejects
it now" (GD301), "admission denied it earlier and nothing re-triggered it since" and "Globalnet
is not running".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.admission import (
    AdmissionNow,
    admission_now,
    is_admission_denial,
    webhook_reads,
)
from globalnet_doctor.facts.cidrs import Network
from globalnet_doctor.facts.globalnet import (
    HEADLESS_ENDPOINTS_IP,
    HEADLESS_WITHOUT_SELECTOR_SUPPORTED,
    INTERNAL_SERVICE_LABEL,
    INTERNAL_SERVICES,
    RETRIGGER_ANNOTATION,
    Export,
    allocated_ip,
    backend_ingress_ips,
    condition,
    endpoint_addresses,
    export_reads,
    exports,
    external_ips,
    internal_service_name,
    internal_services,
    moment,
    require_globalnet,
    service_ingress_ip,
)
from globalnet_doctor.facts.submariner import (
    GLOBALNET,
    at_least,
    daemonset_problem,
    submariner_version,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, ResourceRef, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import ClusterView, KubeObject


def retriggered_since(export: Export, allocated: KubeObject | None) -> str | None:
    """The re-trigger annotation on the exported Service when it is newer than the failure
    (any, when the failure carries no time)."""
    annotations = objects.annotations_of(export.service)
    value = annotations.get(RETRIGGER_ANNOTATION)
    if value is None:
        return None
    when, failed = moment(value), moment((allocated or {}).get("lastTransitionTime"))
    if when is not None and failed is not None and when <= failed:
        return None
    return str(value)


def _retrigger(export: Export) -> str:
    return (
        f"`kubectl -n {export.namespace} annotate service {export.name} "
        "gdoctor.io/retrigger=$(date +%s) --overwrite` (or recreate its ServiceExport, or "
        "restart the globalnet pod)"
    )


class GlobalIngressIpMissing(Check):
    id = "GD302"
    name = "global-ingress-ip-missing"
    title = "Every exported Service has its global IP (GlobalIngressIP and internal Service)"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "service-discovery", "cluster"})
    explains = frozenset({"GD503", "GD603"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *export_reads(settings),
            Read(kinds.ENDPOINTS),
            Read(kinds.DAEMONSETS, settings.submariner_namespace, GLOBALNET),
            *webhook_reads(settings),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        cr, global_cidr = require_globalnet(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        version = submariner_version(cr)
        globalnet = daemonset_problem(
            view.get(kinds.DAEMONSETS, GLOBALNET, settings.submariner_namespace), GLOBALNET
        )
        for export in exports(view):
            if not export.cluster_ip_type:
                continue  # Globalnet ignores NodePort/LoadBalancer exports; a missing Service too
            if export.headless:
                if export.has_selector or at_least(version, HEADLESS_WITHOUT_SELECTOR_SUPPORTED):
                    yield from self._headless(ctx, export, globalnet)
                continue  # older Globalnet does not support it at all: GD305 says so
            yield from self._cluster_ip(ctx, export, global_cidr, globalnet, version)

    def _refs(self, view: ClusterView, export: Export, *extra: KubeObject) -> list[ResourceRef]:
        found = [ref(view.name, kinds.SERVICE_EXPORTS, export.export)]
        if export.service is not None:
            found.append(ref(view.name, kinds.SERVICES, export.service))
        found += [ref(view.name, kinds.GLOBAL_INGRESS_IPS, obj) for obj in extra]
        return found

    def _cluster_ip(
        self,
        ctx: CheckContext,
        export: Export,
        global_cidr: Network,
        globalnet: str | None,
        version: tuple[int, int] | None,
    ) -> Iterable[Finding]:
        view = ctx.cluster
        giip = service_ingress_ip(view, export)
        evidence: dict[str, Any] = {
            "export": export.key,
            "serviceExportValid": condition(export.export, "Valid"),
            "globalnet": globalnet or "ready",
        }
        if giip is None:
            why = f"Globalnet is not running ({globalnet})" if globalnet else "Globalnet made none"
            yield self.finding(
                f"exported Service {export.key} has no GlobalIngressIP: {why}",
                resources=self._refs(view, export),
                evidence=evidence,
                remedy=self._globalnet_remedy(ctx, globalnet)
                + " Globalnet creates it when it processes the ServiceExport; recreating the "
                "ServiceExport makes it process it again.",
            )
            return
        address = allocated_ip(giip)
        if not address:
            yield self._unallocated(ctx, export, giip, global_cidr, globalnet, evidence)
            return
        if not at_least(version, INTERNAL_SERVICES):
            return  # before 0.12 Globalnet programs the ingress without an internal Service
        internal = internal_services(view, export)
        evidence = {
            "export": export.key,
            "allocatedIP": address,
            "internalServices": {objects.name(s): external_ips(s) for s in internal},
        }
        resources = self._refs(view, export, giip)
        resources += [ref(view.name, kinds.SERVICES, s) for s in internal]
        if not internal:
            yield self.finding(
                f"exported Service {export.key} has the global IP {address} but no internal "
                f"Service labelled {INTERNAL_SERVICE_LABEL}={export.name} (expected "
                f"{internal_service_name(export.name)}): nothing forwards the global IP",
                resources=resources,
                evidence=evidence,
                remedy="Restart the globalnet pod: at start it finds the internal Service missing, "
                "releases the IP and allocates it again with a new internal Service "
                f"(kubectl -n {ctx.settings.submariner_namespace} rollout restart "
                f"daemonset/{GLOBALNET}).",
            )
        elif len(internal) > 1:
            yield self.finding(
                f"exported Service {export.key} has {len(internal)} internal Services "
                f"labelled {INTERNAL_SERVICE_LABEL}={export.name}",
                resources=resources,
                evidence=evidence,
                remedy=f"Keep only {internal_service_name(export.name)}; delete the others.",
            )
        else:
            ips = external_ips(internal[0])
            if not ips or ips[0] != address:
                yield self.finding(
                    f"internal Service {export.namespace}/{objects.name(internal[0])} of "
                    f"{export.key} has externalIPs [{', '.join(ips)}], but the allocated global IP "
                    f"is {address}",
                    resources=resources,
                    evidence=evidence,
                    remedy="Restart the globalnet pod: it deletes an internal Service whose "
                    "external IP differs and allocates the export again (kubectl -n "
                    f"{ctx.settings.submariner_namespace} rollout restart "
                    f"daemonset/{GLOBALNET}).",
                )

    def _globalnet_remedy(self, ctx: CheckContext, globalnet: str | None) -> str:
        namespace = ctx.settings.submariner_namespace
        if globalnet:
            return (
                f"Bring Globalnet back: kubectl -n {namespace} describe daemonset {GLOBALNET}; "
                f"kubectl -n {namespace} logs ds/{GLOBALNET} (GD001 lists what is not ready)."
            )
        return f"Read why in the globalnet log: kubectl -n {namespace} logs ds/{GLOBALNET}."

    def _unallocated(
        self,
        ctx: CheckContext,
        export: Export,
        giip: KubeObject,
        global_cidr: Network,
        globalnet: str | None,
        evidence: dict[str, Any],
    ) -> Finding:
        view, settings = ctx.cluster, ctx.settings
        allocated = condition(giip, "Allocated")
        evidence = {**evidence, "globalIngressIP": objects.name(giip), "allocated": allocated}
        resources = self._refs(view, export, giip)
        reason = str((allocated or {}).get("reason") or "")
        text = str((allocated or {}).get("message") or "")
        prefix = f"exported Service {export.key} has no global IP"
        also = f"; Globalnet is not running either ({globalnet})" if globalnet else ""
        if reason == "InternalServiceCreationFailed" and "cannot create resource" in text:
            return self.finding(
                f"{prefix}: RBAC refused Globalnet's internal Service{also}",
                resources=resources,
                evidence=evidence,
                remedy="Restore Submariner's RBAC for the globalnet service account (ClusterRole "
                "submariner-globalnet, see GD301 with --probes), then re-trigger: "
                + _retrigger(export)
                + ".",
            )
        if reason == "InternalServiceCreationFailed":
            state, seen = admission_now(view, settings, global_cidr)
            evidence = {**evidence, "admissionNow": state.value, **seen}
            if state is AdmissionNow.REJECTS:
                return self.finding(
                    f"{prefix}: admission rejects Globalnet's internal Service (GD301){also}",
                    resources=resources,
                    evidence=evidence,
                    remedy="Fix admission first (`gdoctor check GD301` explains it, `gdoctor fix "
                    "GD301` repairs an externalip-webhook), then re-trigger: "
                    + _retrigger(export)
                    + ".",
                )
            retried = retriggered_since(export, allocated)
            if state is AdmissionNow.ALLOWS and retried is not None:
                return self.finding(
                    f"{prefix}: admission allows it now and it was re-triggered at {retried}; "
                    f"Globalnet has not allocated it since (awaiting reconciliation){also}",
                    resources=resources,
                    evidence={**evidence, "retriggeredAt": retried},
                    remedy="Wait for Globalnet (kubectl -n "
                    f"{settings.submariner_namespace} logs ds/{GLOBALNET}); if it retried before "
                    "admission allowed it, re-trigger again: " + _retrigger(export) + ".",
                )
            if state is AdmissionNow.ALLOWS:
                return self.finding(
                    f"{prefix}: admission denied it earlier and nothing re-triggered it since "
                    f"(Globalnet does not retry){also}",
                    resources=resources,
                    evidence=evidence,
                    remedy="Admission allows it now; re-trigger the export: "
                    + _retrigger(export)
                    + ".",
                )
            denied = "admission denied" if is_admission_denial(text) else "creating it failed"
            return self.finding(
                f"{prefix}: {denied} Globalnet's internal Service, and gdoctor cannot tell "
                f"whether admission still rejects it{also}",
                resources=resources,
                evidence=evidence,
                remedy="Run `gdoctor check GD301` (its dry-run probe asks the apiserver); once "
                "admission allows it, re-trigger: " + _retrigger(export) + ".",
            )
        if globalnet:
            return self.finding(
                f"{prefix}: Globalnet is not running ({globalnet})",
                resources=resources,
                evidence=evidence,
                remedy=self._globalnet_remedy(ctx, globalnet),
            )
        if allocated is not None and allocated.get("status") == "False":
            return self.finding(
                f"{prefix}: {reason or 'allocation failed'}: {text}",
                resources=resources,
                evidence=evidence,
                remedy=self._globalnet_remedy(ctx, None)
                + " IPPoolAllocationFailed means the global CIDR is exhausted.",
            )
        return self.finding(
            f"{prefix}: Globalnet has not allocated one yet",
            resources=resources,
            evidence=evidence,
            remedy=self._globalnet_remedy(ctx, None),
        )

    def _headless(
        self, ctx: CheckContext, export: Export, globalnet: str | None
    ) -> Iterable[Finding]:
        view = ctx.cluster
        endpoints = view.get(kinds.ENDPOINTS, export.name, export.namespace)
        giips = backend_ingress_ips(view, export)
        addresses = endpoint_addresses(endpoints)
        expected: dict[str, KubeObject | None] = {}
        if export.has_selector:
            # One `pod-<pod>` GlobalIngressIP per backing pod (spec.podRef).
            by_pod = {str((objects.spec(g).get("podRef") or {}).get("name", "")): g for g in giips}
            for address in addresses:
                target = address.get("targetRef") or {}
                if target.get("kind", "Pod") == "Pod" and target.get("name"):
                    expected[str(target["name"])] = by_pod.get(str(target["name"]))
        else:
            # One `ep-<svc>-<ip>` GlobalIngressIP per Endpoints address.
            by_ip = {str(objects.annotations_of(g).get(HEADLESS_ENDPOINTS_IP)): g for g in giips}
            for address in addresses:
                ip = str(address.get("ip", ""))
                if ip:
                    expected[ip] = by_ip.get(ip)
        missing = sorted(backend for backend, giip in expected.items() if giip is None)
        unallocated = {
            backend: condition(giip, "Allocated")
            for backend, giip in sorted(expected.items())
            if giip is not None and not allocated_ip(giip)
        }
        if not missing and not unallocated:
            return
        what = "pods" if export.has_selector else "Endpoints addresses"
        cause = f": Globalnet is not running ({globalnet})" if globalnet else ""
        yield self.finding(
            f"headless export {export.key}: {len(missing) + len(unallocated)} of "
            f"{len(expected)} backing {what} have no global IP{cause}",
            resources=self._refs(view, export, *[g for g in expected.values() if g is not None]),
            evidence={
                "export": export.key,
                "backends": sorted(expected),
                "withoutGlobalIngressIP": missing,
                "withoutAllocatedIP": unallocated,
                "globalnet": globalnet or "ready",
            },
            remedy=f"Headless exports get one GlobalIngressIP per backend (label "
            f"submariner.io/serviceRef={export.name}). " + self._globalnet_remedy(ctx, globalnet),
        )
