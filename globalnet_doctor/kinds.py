"""The Kubernetes kinds gdoctor reads, and the read requests checks declare.

A kind names its API group but not its version: the adapter asks the server which version it
prefers (EndpointSlice is ``discovery.k8s.io/v1beta1`` before 1.21 and ``v1`` after).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Kind:
    group: str
    """API group; "" for the core group."""
    resource: str
    """Plural resource name, as in the URL."""
    kind: str
    namespaced: bool = True
    versions: tuple[str, ...] = ()
    """Versions gdoctor understands; empty means any. The server's preference decides among them."""

    @property
    def qualified(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def to_json(self) -> dict[str, Any]:
        """As bundles and the fix journal store it."""
        return {
            "group": self.group,
            "resource": self.resource,
            "kind": self.kind,
            "namespaced": self.namespaced,
            "versions": list(self.versions),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Kind:
        return cls(
            str(data["group"]),
            str(data["resource"]),
            str(data["kind"]),
            bool(data["namespaced"]),
            tuple(str(v) for v in data.get("versions") or ()),
        )


@dataclass(frozen=True, slots=True)
class Read:
    """One request a check needs: a LIST (all namespaces or one) or a fixed-name GET."""

    kind: Kind
    namespace: str | None = None
    name: str | None = None
    label_selector: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and self.kind.namespaced and self.namespace is None:
            raise ValueError(f"a GET of {self.kind.kind} {self.name} needs a namespace")
        if self.name is not None and self.label_selector is not None:
            raise ValueError("a GET by name takes no label selector")

    @property
    def verb(self) -> str:
        return "get" if self.name is not None else "list"

    def covers(self, other: Read) -> bool:
        """Whether this read's answer contains everything ``other`` asks for."""
        if self.kind != other.kind or self.name is not None:
            return self == other
        if self.label_selector is not None and self.label_selector != other.label_selector:
            return False
        return self.namespace is None or self.namespace == other.namespace

    def describe(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        what = f" {self.name}" if self.name else ""
        selector = f" -l {self.label_selector}" if self.label_selector else ""
        return f"{self.verb} {self.kind.qualified}{what}{where}{selector}"


def plan_reads(reads: list[Read]) -> list[Read]:
    """Drops reads that another requested read already answers, keeping first-seen order."""
    unique = list(dict.fromkeys(reads))
    return [
        r for r in unique if not any(o is not r and o.covers(r) and not r.covers(o) for o in unique)
    ]


def _core(resource: str, kind: str, namespaced: bool = True) -> Kind:
    return Kind("", resource, kind, namespaced, ("v1",))


NODES = _core("nodes", "Node", namespaced=False)
NAMESPACES = _core("namespaces", "Namespace", namespaced=False)
PODS = _core("pods", "Pod")
SERVICES = _core("services", "Service")
ENDPOINTS = _core("endpoints", "Endpoints")
CONFIGMAPS = _core("configmaps", "ConfigMap")

DAEMONSETS = Kind("apps", "daemonsets", "DaemonSet", versions=("v1",))
DEPLOYMENTS = Kind("apps", "deployments", "Deployment", versions=("v1",))
ENDPOINTSLICES = Kind(
    "discovery.k8s.io", "endpointslices", "EndpointSlice", versions=("v1", "v1beta1")
)
APISERVICES = Kind("apiregistration.k8s.io", "apiservices", "APIService", namespaced=False)
VALIDATING_WEBHOOKS = Kind(
    "admissionregistration.k8s.io",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    namespaced=False,
)

SUBMARINERS = Kind("submariner.io", "submariners", "Submariner", versions=("v1alpha1",))
SERVICE_DISCOVERIES = Kind(
    "submariner.io", "servicediscoveries", "ServiceDiscovery", versions=("v1alpha1",)
)
BROKERS = Kind("submariner.io", "brokers", "Broker", versions=("v1alpha1",))
SUBMARINER_CLUSTERS = Kind("submariner.io", "clusters", "Cluster", versions=("v1",))
SUBMARINER_ENDPOINTS = Kind("submariner.io", "endpoints", "Endpoint", versions=("v1",))
GATEWAYS = Kind("submariner.io", "gateways", "Gateway", versions=("v1",))
ROUTE_AGENTS = Kind("submariner.io", "routeagents", "RouteAgent", versions=("v1",))
GLOBAL_INGRESS_IPS = Kind("submariner.io", "globalingressips", "GlobalIngressIP", versions=("v1",))
CLUSTER_GLOBAL_EGRESS_IPS = Kind(
    "submariner.io",
    "clusterglobalegressips",
    "ClusterGlobalEgressIP",
    namespaced=False,
    versions=("v1",),
)

GLOBAL_EGRESS_IPS = Kind("submariner.io", "globalegressips", "GlobalEgressIP", versions=("v1",))

SERVICE_EXPORTS = Kind("multicluster.x-k8s.io", "serviceexports", "ServiceExport")
SERVICE_IMPORTS = Kind("multicluster.x-k8s.io", "serviceimports", "ServiceImport")

CALICO_IPPOOLS_CRD = Kind(
    "crd.projectcalico.org", "ippools", "IPPool", namespaced=False, versions=("v1",)
)
CALICO_IPPOOLS_V3 = Kind(
    "projectcalico.org", "ippools", "IPPool", namespaced=False, versions=("v3",)
)


def selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Equality-based label selectors (``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``), comma-joined."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass(frozen=True, slots=True)
class DryRunCreate:
    """A probe: a server-side dry-run create (``dryRun=All``), optionally impersonating a user.

    Admission (webhooks included) judges it as it would a real create, and nothing is stored.
    """

    kind: Kind
    namespace: str
    body: str
    """The object, as JSON text (hashable, and stored as sent in a bundle)."""
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] = ()

    def describe(self) -> str:
        who = f" as {self.impersonate_user}" if self.impersonate_user else ""
        return f"dry-run create {self.kind.qualified} in {self.namespace}{who}"


Probe = DryRunCreate

SERVICE_CIDRS = Kind(
    "networking.k8s.io",
    "servicecidrs",
    "ServiceCIDR",
    namespaced=False,
    versions=("v1", "v1beta1", "v1alpha1"),
)
OPENSHIFT_DNSES = Kind("operator.openshift.io", "dnses", "DNS", namespaced=False, versions=("v1",))
"""OpenShift's cluster DNS operator configuration (openshift/api operator/v1 ``DNS``)."""
