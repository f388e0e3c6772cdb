"""GD303: every place that names an export's global IP agrees.

The allocated IP, the internal Service's external IP, the ServiceImport's ``spec.ips`` and the
Lighthouse EndpointSlice addresses (in every cluster that holds a copy) agree, and the allocated
IPs lie inside the cluster's global CIDR (submariner#4122, a double allocation that left
Lighthouse advertising a stale IP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects, submariner
from globalnet_doctor.facts.cidrs import Network, address_in
from globalnet_doctor.facts.globalnet import (
    Export,
    allocated_ip,
    backend_ingress_ips,
    export_reads,
    exports,
    external_ips,
    internal_services,
    require_globalnet,
    service_ingress_ip,
)
from globalnet_doctor.facts.lighthouse import LIGHTHOUSE_SLICES, Advertised, advertised
from globalnet_doctor.kinds import Read
from globalnet_doctor.model import Finding, Severity
from globalnet_doctor.spec import Check, CheckContext, ref
from globalnet_doctor.view import KubeObject


class GlobalIpInconsistent(Check):
    id = "GD303"
    name = "global-ip-inconsistent"
    title = "An export's global IP is the same everywhere and inside the cluster's global CIDR"
    severity = Severity.ERROR
    tags = frozenset({"globalnet", "service-discovery", "cluster"})
    explains = frozenset({"GD503", "GD603"})

    @classmethod
    def reads(cls, settings: Settings) -> Sequence[Read]:
        return (
            *export_reads(settings),
            Read(kinds.SERVICE_IMPORTS),
            Read(kinds.ENDPOINTSLICES, label_selector=LIGHTHOUSE_SLICES),
        )

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        _, global_cidr = require_globalnet(ctx.cluster, ctx.settings)
        view, settings = ctx.cluster, ctx.settings
        cluster_id = submariner.cluster_id(view, settings) or ""
        for export in exports(view):
            if not export.cluster_ip_type:
                continue
            if export.headless:
                giips = [g for g in backend_ingress_ips(view, export) if allocated_ip(g)]
            else:
                giip = service_ingress_ip(view, export)
                giips = [giip] if giip is not None and allocated_ip(giip) else []
            if not giips:
                continue  # no global IP yet: GD302's
            yield from self._outside(ctx, export, giips, global_cidr)
            yield from self._disagreeing(ctx, export, giips, cluster_id)

    def _outside(
        self, ctx: CheckContext, export: Export, giips: Sequence[KubeObject], network: Network
    ) -> Iterable[Finding]:
        outside = {
            objects.name(g): allocated_ip(g)
            for g in giips
            if not address_in(allocated_ip(g), network)
        }
        if not outside:
            return
        yield self.finding(
            f"export {export.key}: allocated global IP {', '.join(sorted(outside.values()))} "
            f"lies outside the cluster's global CIDR {network} (submariner#4122)",
            resources=[ref(ctx.cluster.name, kinds.GLOBAL_INGRESS_IPS, g) for g in giips],
            evidence={"export": export.key, "globalCIDR": str(network), "allocatedIPs": outside},
            remedy="Recreate the export's ServiceExport so Globalnet allocates from its current "
            "pool; if the global CIDR changed, restart the globalnet pod first so it releases "
            "IPs outside it.",
        )

    def _disagreeing(
        self, ctx: CheckContext, export: Export, giips: Sequence[KubeObject], cluster_id: str
    ) -> Iterable[Finding]:
        view = ctx.cluster
        expected = sorted(allocated_ip(g) for g in giips)
        places = advertised(ctx.clusters, export, cluster_id, ctx.settings)
        if not export.headless:
            places += [
                Advertised(view.name, kinds.SERVICES, s, tuple(external_ips(s)[:1]))
                for s in internal_services(view, export)
            ]
        wrong = [p for p in places if sorted(set(p.ips)) != sorted(set(expected))]
        if not wrong:
            return
        related = sorted({p.cluster for p in wrong if p.cluster != view.name})
        by_ips: dict[tuple[str, ...], list[Advertised]] = {}
        for place in wrong:
            by_ips.setdefault(tuple(sorted(set(place.ips))), []).append(place)
        shown = "; ".join(
            f"the {' and '.join(sorted({p.what for p in group}))} in "
            f"{', '.join(sorted({p.cluster for p in group}))} say {', '.join(ips) or 'nothing'}"
            for ips, group in sorted(by_ips.items())
        )
        yield self.finding(
            f"export {export.key}: its GlobalIngressIP allocated {', '.join(expected)}, but "
            f"{shown}",
            resources=[ref(view.name, kinds.GLOBAL_INGRESS_IPS, g) for g in giips]
            + [ref(p.cluster, p.kind, p.obj) for p in wrong],
            evidence={
                "export": export.key,
                "allocatedIPs": {objects.name(g): allocated_ip(g) for g in giips},
                "advertised": {p.where: list(p.ips) for p in places},
            },
            related_clusters=related,
            remedy="Lighthouse or Globalnet kept a stale IP: recreate the ServiceExport "
            f"(kubectl -n {export.namespace} delete serviceexport {export.name}, then export "
            "it again) so every copy is rebuilt from the allocated IP.",
        )
