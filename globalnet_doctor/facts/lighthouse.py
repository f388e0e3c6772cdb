"""Lighthouse's copies of an export: the ServiceImports and EndpointSlices, in every cluster,
that advertise its global IP(s) (GD302 and GD303 judge them)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.globalnet import Export
from globalnet_doctor.view import ClusterView, InputFailed, InputUnavailable, KubeObject

LIGHTHOUSE_SLICES = "endpointslice.kubernetes.io/managed-by=lighthouse-agent.submariner.io"
SERVICE_NAME_LABEL = "multicluster.kubernetes.io/service-name"
SOURCE_CLUSTER_LABEL = "multicluster.kubernetes.io/source-cluster"
SOURCE_NAMESPACE_LABEL = "lighthouse.submariner.io/sourceNamespace"  # slices and imports
IMPORT_SOURCE_NAME = "lighthouse.submariner.io/sourceName"
IMPORT_SOURCE_CLUSTER = "lighthouse.submariner.io/sourceCluster"


@dataclass(frozen=True, slots=True)
class Advertised:
    """One place that names an export's global IP(s)."""

    cluster: str
    kind: kinds.Kind
    obj: KubeObject
    ips: tuple[str, ...]

    @property
    def what(self) -> str:
        return "internal Service" if self.kind == kinds.SERVICES else self.kind.kind

    @property
    def where(self) -> str:
        return f"{self.cluster}:{self.kind.kind} {objects.namespaced_name(self.obj)}"


def _import_is_of(obj: KubeObject, export: Export, cluster_id: str, settings: Settings) -> bool:
    labels = objects.labels(obj)
    if (
        labels.get(IMPORT_SOURCE_NAME) == export.name
        and labels.get(SOURCE_NAMESPACE_LABEL) == export.namespace
        and labels.get(IMPORT_SOURCE_CLUSTER) == cluster_id
    ):
        return True  # the per-cluster import (Lighthouse <= 0.14, and newer local copies)
    if (
        IMPORT_SOURCE_NAME not in labels  # the name alone is ambiguous ("a-b" in "c", "a" in "b-c")
        and objects.namespace(obj) == settings.submariner_namespace
        and objects.name(obj) == f"{export.name}-{export.namespace}-{cluster_id}"
    ):
        return True
    # The aggregated import (newer Lighthouse) speaks for this export when it is the only one.
    clusters = [
        str(c.get("cluster", ""))
        for c in objects.status(obj).get("clusters") or []
        if isinstance(c, Mapping)
    ]
    return (
        objects.namespace(obj) == export.namespace
        and objects.name(obj) == export.name
        and clusters == [cluster_id]
    )


def _slice_addresses(obj: KubeObject) -> tuple[str, ...]:
    found: list[str] = []
    for endpoint in obj.get("endpoints") or []:
        if isinstance(endpoint, Mapping):
            found += [str(a) for a in endpoint.get("addresses") or []]
    return tuple(found)


def advertised(
    views: Sequence[ClusterView], export: Export, cluster_id: str, settings: Settings
) -> list[Advertised]:
    """The ServiceImports and Lighthouse EndpointSlices, in every readable cluster, that name
    the global IP(s) of this cluster's export."""
    found: list[Advertised] = []
    for view in views:
        if not view.reachable:
            continue
        try:
            imports = _imports_by_key(view)
            slices = _slices_by_key(view)
        except (InputUnavailable, InputFailed):
            continue  # that cluster's copies cannot be read; its own run says why
        for obj in _candidate_imports(imports, export, cluster_id, settings):
            ips = tuple(str(ip) for ip in objects.spec(obj).get("ips") or [])
            if ips and _import_is_of(obj, export, cluster_id, settings):
                found.append(Advertised(view.name, kinds.SERVICE_IMPORTS, obj, ips))
        for obj in slices.get((export.name, cluster_id, export.namespace), ()):
            found.append(Advertised(view.name, kinds.ENDPOINTSLICES, obj, _slice_addresses(obj)))
    return found


_Numbered = tuple[int, KubeObject]
"""An object with its place in the read, so candidates found under several keys keep it."""


def _imports_by_key(view: ClusterView) -> Mapping[Hashable, list[_Numbered]]:
    """Each ServiceImport under every key one of ``_import_is_of``'s three rules can match."""

    def index() -> dict[Hashable, list[_Numbered]]:
        grouped: dict[Hashable, list[_Numbered]] = {}
        for number, obj in enumerate(view.list(kinds.SERVICE_IMPORTS)):
            labels = objects.labels(obj)
            keys: list[Hashable] = [("named", objects.namespace(obj), objects.name(obj))]
            if IMPORT_SOURCE_NAME in labels:
                keys.append(
                    (
                        "labelled",
                        labels.get(IMPORT_SOURCE_NAME),
                        labels.get(SOURCE_NAMESPACE_LABEL),
                        labels.get(IMPORT_SOURCE_CLUSTER),
                    )
                )
            for key in keys:
                grouped.setdefault(key, []).append((number, obj))
        return grouped

    return view.derived("service-imports", index)


def _candidate_imports(
    imports: Mapping[Hashable, list[_Numbered]], export: Export, cluster_id: str, settings: Settings
) -> list[KubeObject]:
    """The imports any rule could match, once each, in the order read."""
    keys = [
        ("labelled", export.name, export.namespace, cluster_id),
        ("named", settings.submariner_namespace, f"{export.name}-{export.namespace}-{cluster_id}"),
        ("named", export.namespace, export.name),
    ]
    found = {n: o for key in keys for n, o in imports.get(key, ())}
    return [found[n] for n in sorted(found)]


def _slices_by_key(view: ClusterView) -> Mapping[tuple[str, str, str], list[KubeObject]]:
    """Lighthouse's EndpointSlices by what makes one a copy of an export: its service-name
    and source-cluster labels, and its source namespace (the label, else its own)."""

    def index() -> dict[tuple[str, str, str], list[KubeObject]]:
        grouped: dict[tuple[str, str, str], list[KubeObject]] = {}
        for obj in view.list(kinds.ENDPOINTSLICES, label_selector=LIGHTHOUSE_SLICES):
            labels = objects.labels(obj)
            service, cluster = labels.get(SERVICE_NAME_LABEL), labels.get(SOURCE_CLUSTER_LABEL)
            if isinstance(service, str) and isinstance(cluster, str):
                source_namespace = labels.get(SOURCE_NAMESPACE_LABEL) or objects.namespace(obj)
                grouped.setdefault((service, cluster, source_namespace), []).append(obj)
        return grouped

    return view.derived("lighthouse-slices", index)
