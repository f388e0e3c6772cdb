"""The CustomResourceDefinitions the lab installs in every cluster.

Names, scopes and status subresources follow the upstream manifests (submariner-operator
config/crd/bases, submariner deploy/crds, kubernetes-sigs/mcs-api config/crd, Calico's
crd.projectcalico.org). Schemas are deliberately open: spec and status preserve unknown
fields, so a scenario can carry any field, including ones a newer release added.
Kinds without a status subresource upstream (Gateway, RouteAgent, ...) keep `status` as a
plain field written on create, as the real components do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import JsonObject

BOOTSTRAP_LABEL = "gdoctor-lab/bootstrap"


@dataclass(frozen=True)
class CrdSpec:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    status_subresource: bool = False
    short_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


LAB_CRDS: tuple[CrdSpec, ...] = (
    # submariner-operator: the operator's own API.
    CrdSpec("submariner.io", "v1alpha1", "Submariner", "submariners", status_subresource=True),
    CrdSpec(
        "submariner.io",
        "v1alpha1",
        "ServiceDiscovery",
        "servicediscoveries",
        status_subresource=True,
    ),
    CrdSpec("submariner.io", "v1alpha1", "Broker", "brokers", status_subresource=True),
    # submariner: the data-plane components' API.
    CrdSpec("submariner.io", "v1", "Cluster", "clusters"),
    CrdSpec("submariner.io", "v1", "Endpoint", "endpoints"),
    CrdSpec("submariner.io", "v1", "Gateway", "gateways"),
    CrdSpec("submariner.io", "v1", "RouteAgent", "routeagents"),
    CrdSpec("submariner.io", "v1", "GatewayRoute", "gatewayroutes", short_names=("gwrt",)),
    CrdSpec("submariner.io", "v1", "NonGatewayRoute", "nongatewayroutes", short_names=("ngwrt",)),
    CrdSpec("submariner.io", "v1", "GlobalEgressIP", "globalegressips", status_subresource=True),
    CrdSpec(
        "submariner.io",
        "v1",
        "ClusterGlobalEgressIP",
        "clusterglobalegressips",
        namespaced=False,
        status_subresource=True,
        short_names=("cgeip",),
    ),
    CrdSpec(
        "submariner.io",
        "v1",
        "GlobalIngressIP",
        "globalingressips",
        status_subresource=True,
        short_names=("giip",),
    ),
    # Calico: IP pools decide which CIDRs are pod networks and which get NAT.
    CrdSpec("crd.projectcalico.org", "v1", "IPPool", "ippools", namespaced=False),
    # The Calico API server's projectcalico.org/v3, served here by a CRD so pools can be loaded
    # through it; the apiserver registers APIService v3.projectcalico.org for it, as the real
    # API server's installation does.
    CrdSpec("projectcalico.org", "v3", "IPPool", "ippools", namespaced=False),
    # Multi-Cluster Services API, used by Lighthouse service discovery.
    CrdSpec(
        "multicluster.x-k8s.io",
        "v1alpha1",
        "ServiceExport",
        "serviceexports",
        status_subresource=True,
        short_names=("svcex",),
    ),
    CrdSpec(
        "multicluster.x-k8s.io",
        "v1alpha1",
        "ServiceImport",
        "serviceimports",
        status_subresource=True,
        short_names=("svcim",),
    ),
    # OpenShift's DNS operator (openshift/api operator/v1, dnses.operator.openshift.io:
    # cluster-scoped, status subresource); Submariner's operator adds its `lighthouse` servers.
    CrdSpec(
        "operator.openshift.io", "v1", "DNS", "dnses", namespaced=False, status_subresource=True
    ),
)

_OPEN_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def crd_manifest(spec: CrdSpec) -> JsonObject:
    version: JsonObject = {
        "name": spec.version,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                **_OPEN_OBJECT,
                "properties": {"spec": dict(_OPEN_OBJECT), "status": dict(_OPEN_OBJECT)},
            }
        },
    }
    if spec.status_subresource:
        version["subresources"] = {"status": {}}
    names: JsonObject = {
        "kind": spec.kind,
        "listKind": f"{spec.kind}List",
        "plural": spec.plural,
        "singular": spec.kind.lower(),
    }
    if spec.short_names:
        names["shortNames"] = list(spec.short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": spec.name, "labels": {BOOTSTRAP_LABEL: "true"}},
        "spec": {
            "group": spec.group,
            "names": names,
            "scope": "Namespaced" if spec.namespaced else "Cluster",
            "versions": [version],
        },
    }


def is_established(crd: JsonObject) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
