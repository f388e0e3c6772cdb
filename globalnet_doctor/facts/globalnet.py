"""Globalnet's ingress: exports, their GlobalIngressIPs and internal Services, and the names
Globalnet derives (what GD301-GD305, their fixes and the host facts judge).

Shapes and names follow submariner ``pkg/globalnet/controllers`` (reference/submariner.md §4-§6):
a ClusterIP export gets a GlobalIngressIP named like the Service and, from Globalnet 0.12 on, an
internal Service ``submariner-<hash>`` labelled ``submariner.io/exportedServiceRef=<svc>`` whose
``externalIPs[0]`` is the global IP; a headless export gets one GlobalIngressIP per backend
(``pod-<pod>`` or ``ep-<svc>-<ip>``) labelled ``submariner.io/serviceRef=<svc>``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.cidrs import Network, parse_network
from globalnet_doctor.facts.submariner import (
    global_cidr,
    require_submariner,
    submariner_reads,
)
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject, NotApplicable

INTERNAL_SERVICE_LABEL = "submariner.io/exportedServiceRef"
SERVICE_REF_LABEL = "submariner.io/serviceRef"
CLONED_FROM_LABEL = "endpoints.submariner.io/cloned-from"
HEADLESS_POD_IP = "submariner.io/headless-svc-pod-ip"
HEADLESS_ENDPOINTS_IP = "submariner.io/headless-svc-endpoints-ip"
GLOBALNET_SERVICE_ACCOUNT = "submariner-globalnet"
CLUSTER_IP_TARGET = "ClusterIPService"
"""``spec.target`` of a ClusterIP export's GlobalIngressIP (the default when left out)."""
HEADLESS_TARGETS = ("HeadlessServicePod", "HeadlessServiceEndpoints")
"""``spec.target`` of a headless export's backend GlobalIngressIPs."""

# Releases that changed what an export looks like (reference/submariner.md §5.1, §6.3-§6.4).
HEADLESS_WITHOUT_SELECTOR_SUPPORTED = (0, 11)
"""submariner#1537, fixed by PR #1558: ``ep-*`` GlobalIngressIPs for selector-less headless."""
INTERNAL_SERVICES = (0, 12)
"""PR #1643: ingress through an internal Service with ``externalIPs`` (so admission matters),
with the Endpoints-cloning controller for selector-less Services (#1693, PR #1695)."""
SELECTORLESS_RESOLVABLE = (0, 12)
"""lighthouse#603, fixed by lighthouse PR #684: selector-less Services resolve by name."""


def export_reads(settings: Settings) -> tuple[Read, ...]:
    """Every ServiceExport, Service and GlobalIngressIP: one LIST each, all namespaces."""
    return (
        *submariner_reads(settings),
        Read(kinds.SERVICE_EXPORTS),
        Read(kinds.SERVICES),
        Read(kinds.GLOBAL_INGRESS_IPS),
    )


def globalnet_user(settings: Settings) -> str:
    """The user Globalnet acts as: its service account."""
    return f"system:serviceaccount:{settings.submariner_namespace}:{GLOBALNET_SERVICE_ACCOUNT}"


def globalnet_groups(settings: Settings) -> tuple[str, ...]:
    """The groups the apiserver gives that service account."""
    return (
        "system:serviceaccounts",
        f"system:serviceaccounts:{settings.submariner_namespace}",
        "system:authenticated",
    )


def internal_service_name(service: str) -> str:
    """Globalnet's internal Service for an export: only the Service name is hashed."""
    digest = base64.b32encode(hashlib.sha256(service.encode()).digest()).decode()
    return "submariner-" + digest[:32].lower()


def require_globalnet(view: ClusterView, settings: Settings) -> tuple[KubeObject, Network]:
    """The Submariner CR and the cluster's global CIDR; ``skip`` without Submariner or with
    Globalnet off."""
    cr = require_submariner(view, settings)
    text = global_cidr(view, settings)
    if not text:
        raise NotApplicable("Globalnet is off (the Submariner CR has no globalCIDR)")
    network = parse_network(text)
    if network is None:
        raise NotApplicable(f"the Submariner CR's globalCIDR {text!r} is not a CIDR")
    return cr, network


def condition(obj: KubeObject, kind: str) -> Mapping[str, Any] | None:
    for entry in objects.status(obj).get("conditions") or []:
        if isinstance(entry, Mapping) and entry.get("type") == kind:
            return entry
    return None


def allocated_ip(giip: KubeObject) -> str:
    return str(objects.status(giip).get("allocatedIP") or "")


RETRIGGER_ANNOTATION = "gdoctor.io/retrigger"
"""Set on an exported Service to make Globalnet retry it (a Service update requeues its
GlobalIngressIP); its value is when, as unix seconds or RFC 3339."""


def moment(value: object) -> datetime | None:
    """Unix seconds or an RFC 3339 time, as a UTC datetime; None when neither."""
    text = str(value or "").strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Export:
    """A ServiceExport and the Service it exports (None when that Service does not exist)."""

    export: KubeObject
    service: KubeObject | None

    @property
    def namespace(self) -> str:
        return objects.namespace(self.export)

    @property
    def name(self) -> str:
        return objects.name(self.export)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> Mapping[str, Any]:
        return objects.spec(self.service)

    @property
    def cluster_ip_type(self) -> bool:
        """Globalnet handles only ``type: ClusterIP`` (the default) exports."""
        return self.service is not None and self.spec.get("type", "ClusterIP") == "ClusterIP"

    @property
    def headless(self) -> bool:
        return self.spec.get("clusterIP") == "None"

    @property
    def has_selector(self) -> bool:
        return bool(self.spec.get("selector"))


def exports(view: ClusterView) -> list[Export]:
    """Every ServiceExport of the cluster with its Service, sorted by namespace and name."""
    services = {(objects.namespace(s), objects.name(s)): s for s in view.list(kinds.SERVICES)}
    found = [
        Export(export, services.get((objects.namespace(export), objects.name(export))))
        for export in view.list(kinds.SERVICE_EXPORTS)
    ]
    return sorted(found, key=lambda e: (e.namespace, e.name))


def holds_service_ip(giip: KubeObject, service: str) -> bool:
    """Whether the GlobalIngressIP holds the global IP of the ClusterIP Service ``service`` of
    its namespace: it refers to the Service and targets a ClusterIP Service (the default)."""
    spec = objects.spec(giip)
    refers = (spec.get("serviceRef") or {}).get("name") == service
    return refers and spec.get("target", CLUSTER_IP_TARGET) == CLUSTER_IP_TARGET


def holds_backend_ip(giip: KubeObject, service: str) -> bool:
    """Whether the GlobalIngressIP holds the global IP of one backend (``pod-*``, ``ep-*``) of
    the headless Service ``service`` of its namespace: it refers to the Service (or carries its
    ``submariner.io/serviceRef`` label) and targets a headless backend."""
    spec = objects.spec(giip)
    refers = (spec.get("serviceRef") or {}).get("name") == service
    labelled = objects.labels(giip).get(SERVICE_REF_LABEL) == service
    return (refers or labelled) and spec.get("target") in HEADLESS_TARGETS


def service_ingress_ip(view: ClusterView, export: Export) -> KubeObject | None:
    """The GlobalIngressIP of a ClusterIP export (``holds_service_ip``)."""
    candidates = _ingress_ips_by_service(view, export.namespace).get(export.name, ())
    return next((g for g in candidates if holds_service_ip(g, export.name)), None)


def backend_ingress_ips(view: ClusterView, export: Export) -> list[KubeObject]:
    """The ``pod-*`` / ``ep-*`` GlobalIngressIPs of a headless export (``holds_backend_ip``)."""
    candidates = _ingress_ips_by_service(view, export.namespace).get(export.name, ())
    return [g for g in candidates if holds_backend_ip(g, export.name)]


def _ingress_ips_by_service(view: ClusterView, namespace: str) -> Mapping[str, list[KubeObject]]:
    """A namespace's GlobalIngressIPs by every Service name they refer to (``serviceRef`` or
    the ``submariner.io/serviceRef`` label), in the order read: the candidates the holds_*
    rules then judge."""

    def index() -> dict[str, list[KubeObject]]:
        grouped: dict[str, list[KubeObject]] = {}
        for giip in view.list(kinds.GLOBAL_INGRESS_IPS, namespace):
            referred = (objects.spec(giip).get("serviceRef") or {}).get("name")
            labelled = objects.labels(giip).get(SERVICE_REF_LABEL)
            for service in dict.fromkeys(n for n in (referred, labelled) if isinstance(n, str)):
                grouped.setdefault(service, []).append(giip)
        return grouped

    return view.derived(("ingress-ips-by-service", namespace), index)


def internal_services(view: ClusterView, export: Export) -> list[KubeObject]:
    """Services labelled ``submariner.io/exportedServiceRef=<svc>`` in the export's namespace."""

    def index() -> dict[str, list[KubeObject]]:
        grouped: dict[str, list[KubeObject]] = {}
        for service in view.list(kinds.SERVICES, export.namespace):
            exported = objects.labels(service).get(INTERNAL_SERVICE_LABEL)
            if isinstance(exported, str):
                grouped.setdefault(exported, []).append(service)
        return grouped

    return list(view.derived(("internal-services", export.namespace), index).get(export.name, ()))


def external_ips(service: KubeObject) -> list[str]:
    return [str(ip) for ip in objects.spec(service).get("externalIPs") or []]


def endpoint_addresses(endpoints: KubeObject | None) -> list[Mapping[str, Any]]:
    """The ready addresses of an Endpoints object, in order."""
    found: list[Mapping[str, Any]] = []
    for subset in (endpoints or {}).get("subsets") or []:
        found.extend(a for a in subset.get("addresses") or [] if isinstance(a, Mapping))
    return found


def failure_conditions(
    candidates: Iterable[KubeObject], kind: str
) -> list[tuple[KubeObject, dict[str, Any]]]:
    """Objects whose ``InternalServiceCreationFailed`` condition (GlobalIngressIP ``Allocated``,
    ServiceExport ``Valid``) is set, each with the condition as evidence, message verbatim."""
    condition_type = "Allocated" if kind == "GlobalIngressIP" else "Valid"
    found: list[tuple[KubeObject, dict[str, Any]]] = []
    for obj in candidates:
        entry = condition(obj, condition_type)
        if (
            entry is not None
            and entry.get("status") == "False"
            and entry.get("reason") == "InternalServiceCreationFailed"
        ):
            evidence = {
                "kind": kind,
                "namespace": objects.namespace(obj),
                "name": objects.name(obj),
                "reason": entry.get("reason"),
                "message": str(entry.get("message", "")),
            }
            found.append((obj, evidence))
    return found


def sorted_unique(values: Sequence[str]) -> list[str]:
    return sorted(set(values))
